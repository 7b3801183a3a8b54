"""`lakehouse dbt ...`: the dbt project against this warehouse, e.g. `lakehouse dbt build` or `docs generate`."""

from __future__ import annotations

from contextlib import nullcontext

import click

from lakehouse import lease
from lakehouse.cli.options import wait_for_writer
from lakehouse.report import console
from lakehouse.settings import load_settings
from lakehouse.warehouse import Warehouse

WRITING = ("build", "run", "snapshot", "seed")


@click.command("dbt", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option(
    "--target",
    type=click.Choice(["duckdb", "trino"]),
    default=None,
    help="Default: LAKEHOUSE_DBT_TARGET, else trino in the stack and duckdb embedded.",
)
@wait_for_writer
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(target: str | None, wait: float, args: tuple[str, ...]) -> None:
    """Run dbt with ARGS (e.g. `build`, `test --select stg_orders`, `docs generate`) against the warehouse."""
    import os

    from lakehouse import dbt

    warehouse = Warehouse(load_settings())
    warehouse.require_exists()
    chosen = target or os.environ.get("LAKEHOUSE_DBT_TARGET") or dbt.default_target(warehouse)
    arguments = list(args) or ["build"]
    # Commands that write gold tables hold the warehouse's lease, as a run does; tests, docs and compile only read.
    writer = lease.hold(warehouse, f"lakehouse dbt {arguments[0]}", wait) if arguments[0] in WRITING else nullcontext()
    with writer:
        result = dbt.run(warehouse, arguments, target=chosen, quiet=False)
    console.print(result.summary())

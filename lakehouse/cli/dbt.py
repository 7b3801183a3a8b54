"""`lakehouse dbt ...`: the dbt project against this warehouse, e.g. `lakehouse dbt build` or `docs generate`."""

from __future__ import annotations

import click

from lakehouse.report import console
from lakehouse.settings import load_settings
from lakehouse.warehouse import Warehouse


@click.command("dbt", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option(
    "--target",
    type=click.Choice(["duckdb", "trino"]),
    default=None,
    help="Default: LAKEHOUSE_DBT_TARGET, else trino in the stack and duckdb embedded.",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(target: str | None, args: tuple[str, ...]) -> None:
    """Run dbt with ARGS (e.g. `build`, `test --select stg_orders`, `docs generate`) against the warehouse."""
    import os

    from lakehouse import dbt

    warehouse = Warehouse(load_settings())
    warehouse.require_exists()
    chosen = target or os.environ.get("LAKEHOUSE_DBT_TARGET") or dbt.default_target(warehouse)
    result = dbt.run(warehouse, list(args) or ["build"], target=chosen, quiet=False)
    console.print(result.summary())

"""`lakehouse run`: every pending landing batch through bronze, silver and gold in one Spark session."""

from __future__ import annotations

import time

import click

from lakehouse.errors import UserError
from lakehouse.report import console, summary_table
from lakehouse.settings import load_settings
from lakehouse.warehouse import Warehouse

LAYERS = ("bronze", "silver", "gold", "dbt")


@click.command("run")
@click.option(
    "--layer",
    "layers",
    multiple=True,
    type=click.Choice(LAYERS),
    help="Run only these layers (repeatable). Default: all, in order.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Keep Spark running and take each new landing batch through the layers as it lands (Ctrl-C stops).",
)
@click.option(
    "--every",
    type=click.FloatRange(min=0.5),
    default=10.0,
    show_default=True,
    help="With --watch: seconds between looks at the landing zone.",
)
def command(layers: tuple[str, ...], watch: bool, every: float) -> None:
    """Process everything new since the last run, through every layer, and print a summary."""
    from lakehouse.jobs import run_layers, watch_landing

    settings = load_settings()
    warehouse = Warehouse(settings)
    if not warehouse.exists(warehouse.uri("landing")):
        raise UserError(f"no landing data in {warehouse.root}: run `lakehouse generate --days 30` first")
    if watch:
        watch_landing(settings, warehouse, layers or LAYERS, every)
        return
    clock = time.perf_counter()
    results, ctx, spark_seconds = run_layers(settings, warehouse, layers or LAYERS)
    total = time.perf_counter() - clock
    if not any(r.did_work for r in results):
        console.print("Nothing new since the last run; no table changed.")
        return
    console.print(summary_table(results, title=f"Run {ctx.run_id}"))
    console.print(
        f"Done in {total:.1f}s ({spark_seconds:.1f}s starting Spark). "
        'Look at the data with `lakehouse status` or `lakehouse sql "select ..."`.'
    )

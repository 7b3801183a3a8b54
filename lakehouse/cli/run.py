"""`lakehouse run`: every landing file not taken yet through bronze, silver and gold in one Spark session.

A run holds the warehouse's write lease (lakehouse/lease.py) from before Spark starts until it ends, so a second run
is refused in a second or two, naming the first, instead of doubling rows with it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import click

from lakehouse import lease, native_panics
from lakehouse.cli.options import wait_for_writer
from lakehouse.errors import UserError
from lakehouse.pipeline import LAYERS
from lakehouse.report import console, summary_table
from lakehouse.settings import Settings, load_settings
from lakehouse.warehouse import Warehouse


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
    help="Keep Spark running and take each new landing file through the layers as it lands (Ctrl-C stops).",
)
@click.option(
    "--every",
    type=click.FloatRange(min=0.5),
    default=10.0,
    show_default=True,
    help="With --watch: seconds between looks at the landing zone.",
)
@wait_for_writer
def command(layers: tuple[str, ...], watch: bool, every: float, wait: float) -> None:
    """Process everything new since the last run, through every layer, and print a summary."""
    settings = load_settings()
    warehouse = Warehouse(settings)
    if not warehouse.exists(warehouse.uri("landing")):
        raise UserError(f"no landing data in {warehouse.root}: run `lakehouse generate --days 30` first")
    with native_panics.kept_off_console(), lease.hold(warehouse, _describe(layers, watch), wait) as held:
        if watch:
            from lakehouse.launcher import watch_landing

            watch_landing(settings, warehouse, layers or LAYERS, every, held)
        else:
            _run_once(settings, warehouse, layers or LAYERS, held)


def _describe(layers: tuple[str, ...], watch: bool) -> str:
    """Return the command as the lease names it to a run that is refused (`lakehouse run --watch`)."""
    return " ".join(["lakehouse run", *(f"--layer {layer}" for layer in layers), *(["--watch"] if watch else [])])


def _run_once(settings: Settings, warehouse: Warehouse, layers: Sequence[str], held: lease.Lease) -> None:
    """Run `layers` over everything new and print the summary."""
    from lakehouse.launcher import run_layers

    clock = time.perf_counter()
    results, ctx, spark_seconds = run_layers(settings, warehouse, layers, lease=held)
    total = time.perf_counter() - clock
    if not any(r.did_work for r in results):
        console.print("Nothing new since the last run; no table changed.")
        return
    console.print(summary_table(results, title=f"Run {ctx.run_id}"))
    console.print(
        f"Done in {total:.1f}s ({spark_seconds:.1f}s starting Spark). "
        'Look at the data with `lakehouse status` or `lakehouse sql "select ..."`.'
    )

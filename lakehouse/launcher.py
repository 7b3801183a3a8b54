"""Running layers with progress: what `lakehouse run` and the thin scripts in jobs/ share."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lakehouse import lease as leases
from lakehouse import native_panics
from lakehouse.errors import PipelineError, UserError
from lakehouse.report import ConsoleListener, console, summary_table
from lakehouse.settings import Settings, load_settings
from lakehouse.warehouse import Warehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.pipeline.context import RunContext, StepResult


def _start_spark(settings: Settings, app_name: str, what: str) -> tuple[SparkSession, float]:
    """Start the one Spark session with a spinner, say how long it took and what comes next; return it and seconds."""
    from lakehouse.spark import get_spark

    clock = time.perf_counter()
    with console.status("Starting Spark …"):
        spark = get_spark(settings, app_name)
    seconds = time.perf_counter() - clock
    console.print(f"Spark ({settings.spark_master}) ready in {seconds:.1f}s · {what}")
    return spark, seconds


def run_layers(
    settings: Settings,
    warehouse: Warehouse,
    layers: Sequence[str],
    app_name: str = "lakehouse",
    lease: leases.Lease | None = None,
) -> tuple[list[StepResult], RunContext, float]:
    """Start Spark (one session), run `layers` with live progress; return (results, context, Spark start seconds).

    The caller holds the warehouse's `lease`; the run's id is written into it.
    """
    from lakehouse.pipeline import runner
    from lakehouse.pipeline.context import RunContext
    from lakehouse.tables import Tables

    spark, spark_seconds = _start_spark(settings, app_name, f"warehouse {warehouse.root}")
    ctx = RunContext(Tables(warehouse, spark))
    if lease is not None:
        lease.note_run(ctx.run_id)
    listener = ConsoleListener()
    try:
        results = runner.run(ctx, layers, listener, parallelism=settings.parallel_steps)
    finally:
        listener.close()
    return results, ctx, spark_seconds


def watch_landing(
    settings: Settings, warehouse: Warehouse, layers: Sequence[str], every: float, lease: leases.Lease | None = None
) -> None:
    """Keep one Spark session and run `layers` whenever new landing files settle, until Ctrl-C (or until the
    warehouse's `lease`, which the caller holds, is lost)."""
    from lakehouse.pipeline import watch
    from lakehouse.tables import Tables

    spark, _ = _start_spark(
        settings, "lakehouse-watch", f"watching {warehouse.uri('landing')} every {every:g}s · Ctrl-C stops"
    )
    listener = ConsoleListener()
    runs = 0

    def report(cycle: watch.Cycle) -> None:
        nonlocal runs
        runs += 1
        listener.close()
        console.print(watch.describe(cycle), style="red" if cycle.error else "bold", markup=False)

    try:
        watch.watch(
            Tables(warehouse, spark),
            every=every,
            layers=layers,
            parallelism=settings.parallel_steps,
            listener=listener,
            on_cycle=report,
            lease=lease,
        )
    except KeyboardInterrupt:
        listener.close()
        console.print(f"Stopped watching after {runs} run{'s' if runs != 1 else ''}.")
    finally:
        spark.stop()


def run_layer_job(layer: str) -> None:
    """Run one layer's steps over everything new and print a summary; exit 1 with one line on failure."""
    try:
        settings = load_settings()
        warehouse = Warehouse(settings)
        warehouse.require_exists()
        with native_panics.kept_off_console(), leases.hold(warehouse, f"jobs/{layer}.py") as lease:
            results, ctx, _ = run_layers(settings, warehouse, [layer], f"lakehouse-{layer}", lease)
        console.print(summary_table(results, title=f"{layer} — run {ctx.run_id}"))
    except (UserError, PipelineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)

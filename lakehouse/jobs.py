"""Running layers with progress: what `lakehouse run` and the thin scripts in jobs/ share."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from lakehouse.errors import PipelineError, UserError
from lakehouse.report import ConsoleListener, console, summary_table
from lakehouse.settings import Settings, load_settings
from lakehouse.warehouse import Warehouse


def run_layers(settings: Settings, warehouse: Warehouse, layers: Sequence[str], app_name: str = "lakehouse"):  # type: ignore[no-untyped-def]
    """Start Spark (one session), run `layers` with live progress; return (results, context, Spark start seconds)."""
    from lakehouse.pipeline import runner
    from lakehouse.pipeline.context import RunContext
    from lakehouse.spark import get_spark
    from lakehouse.tables import Tables

    clock = time.perf_counter()
    with console.status("Starting Spark …"):
        spark = get_spark(settings, app_name)
    spark_seconds = time.perf_counter() - clock
    console.print(f"Spark ({settings.spark_master}) ready in {spark_seconds:.1f}s · warehouse {warehouse.root}")
    ctx = RunContext(Tables(warehouse, spark))
    listener = ConsoleListener()
    try:
        results = runner.run(ctx, layers, listener, parallelism=settings.parallel_steps)
    finally:
        listener.close()
    return results, ctx, spark_seconds


def run_layer_job(layer: str) -> None:
    """Run one layer's steps over everything new and print a summary; exit 1 with one line on failure."""
    try:
        settings = load_settings()
        warehouse = Warehouse(settings)
        warehouse.require_exists()
        results, ctx, _ = run_layers(settings, warehouse, [layer], f"lakehouse-{layer}")
        console.print(summary_table(results, title=f"{layer} — run {ctx.run_id}"))
    except (UserError, PipelineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)

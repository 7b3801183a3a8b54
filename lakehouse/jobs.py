"""The body shared by the thin scripts in jobs/: one layer, one Spark session, a summary, a clean exit."""

from __future__ import annotations

import sys
import time

from lakehouse.errors import PipelineError, UserError
from lakehouse.pipeline import runner
from lakehouse.pipeline.context import RunContext
from lakehouse.report import ConsoleListener, console, summary_table
from lakehouse.settings import load_settings
from lakehouse.spark import get_spark
from lakehouse.tables import Tables
from lakehouse.warehouse import Warehouse


def run_layer_job(layer: str) -> None:
    """Run one layer's steps over everything new and print a summary; exit 1 with one line on failure."""
    try:
        settings = load_settings()
        warehouse = Warehouse(settings)
        warehouse.require_exists()
        clock = time.perf_counter()
        spark = get_spark(settings, f"lakehouse-{layer}")
        console.print(f"Spark ready in {time.perf_counter() - clock:.1f}s; warehouse {warehouse.root}")
        ctx = RunContext(Tables(warehouse, spark))
        listener = ConsoleListener()
        try:
            results = runner.run(ctx, [layer], listener, parallelism=settings.parallel_steps)
        finally:
            listener.close()
        console.print(summary_table(results, title=f"{layer} — run {ctx.run_id}"))
    except (UserError, PipelineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)

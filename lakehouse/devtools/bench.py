"""The benchmark behind `make bench`: measures and prints; it asserts nothing.

1. Generator: records/s for the whole shop over N days, and clickstream events/s against a per-row Faker loop that
   produces the same events.
2. Pipeline: the full run (landing → gold) over those days, with the share spent starting Spark.
3. One more day: generated, then processed by a fresh `lakehouse run` process (what a user waits for), and by
   `lakehouse run --watch` (a Spark session that stays up and takes each day as it lands).
4. Dashboards: chart-query latency p50/p95 on the gold layer and through Superset, and each dashboard's render time
   in headless Chromium (see lakehouse.devtools.dashboard_bench).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from lakehouse.report import console
from lakehouse.settings import Settings, load_settings
from lakehouse.warehouse import Warehouse

if TYPE_CHECKING:
    from generator.run import GenerateResult
    from lakehouse.pipeline.context import StepResult
    from lakehouse.pipeline.watch import Cycle


@dataclass
class Figure:
    name: str
    value: str
    note: str = ""


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}"


# Days a watcher takes one after another in the benchmark. A watcher runs for weeks, and the JIT keeps settling over
# its first days: measured over 14 days, a day took 8.4, 7.6, 6.7, 6.4 s for the first four and ~5–6 s from the
# eighth on. The figure is the median of the last SETTLED_DAYS days (a single day moves by up to a second from run to
# run on this machine); every day is printed.
WATCHED_DAYS = 12
SETTLED_DAYS = 3


def _dbt_seconds(results: Sequence[StepResult]) -> float:
    """Return the seconds the dbt step took (it runs alone, after every Spark step)."""
    return sum(r.seconds for r in results if r.step.startswith("dbt."))


def _run_cli(warehouse: str, *args: str, env_extra: dict[str, str] | None = None) -> tuple[float, str]:
    """Run `lakehouse ARGS` in a fresh process; return its wall time and output."""
    env = {**os.environ, "LAKEHOUSE_WAREHOUSE": warehouse, "COLUMNS": "160", **(env_extra or {})}
    clock = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - clock
    if done.returncode != 0:
        raise RuntimeError(f"lakehouse {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def _fresh_root(workdir: str | None) -> Path:
    """Return an empty folder for the bench warehouse: `workdir` emptied, or a new temp folder."""
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="lakehouse-bench-"))
    if root.exists() and any(root.iterdir()):
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    return root


def _bench_generator(warehouse: Warehouse, days: int, events_per_day: int | None) -> list[Figure]:
    """Generate `days` days into the warehouse; return the generator's figures (and against a per-row Faker loop)."""
    from generator import generate
    from generator.baseline import compare

    console.print(f"generating {days} days …")
    with console.status(f"Generating {days} days …"):
        generated = generate(warehouse, days, events_per_day=events_per_day, progress=False)
    events = generated.rows["events"]
    whole = Figure(
        "generator: whole shop",
        f"{generated.rows_per_second:,.0f} records/s",
        f"{generated.total_rows:,} records ({events:,} events) for {days} days in {generated.seconds:.1f}s",
    )
    with console.status("Generator against a per-row Faker loop …"):
        comparison = compare(events=100_000)
    clickstream = Figure(
        "generator: clickstream events",
        f"{comparison.vectorised_rows_per_second:,.0f} events/s",
        f"per-row Faker loop: {comparison.baseline_rows_per_second:,.0f} events/s → {comparison.speedup:.1f}× faster",
    )
    return [whole, clickstream]


def _bench_full_run(settings: Settings, warehouse: Warehouse, days: int) -> tuple[Figure, float, float]:
    """Run landing → gold in this process (its first Spark session); return its figure, seconds and dbt seconds."""
    from lakehouse.pipeline import runner
    from lakehouse.pipeline.context import RunContext
    from lakehouse.spark import get_spark
    from lakehouse.tables import Tables

    with console.status("Starting Spark …"):
        clock = time.perf_counter()
        spark = get_spark(settings, "lakehouse-bench")
        spark_start = time.perf_counter() - clock
    tables = Tables(warehouse, spark)
    console.print(f"full run: {days} days landing → gold …")
    with console.status(f"Full run: {days} days landing → gold …"):
        clock = time.perf_counter()
        results = runner.run(RunContext(tables), parallelism=settings.parallel_steps)
        pipeline = time.perf_counter() - clock
    spark.stop()
    full = spark_start + pipeline
    full_dbt = _dbt_seconds(results)
    rows_in = sum(r.rows_in for r in results if r.layer == "bronze")
    figure = Figure(
        "full run (landing → gold)",
        f"{full:.1f} s",
        f"{rows_in:,} landing records; Spark start {spark_start:.1f}s = {spark_start / full:.0%} of it;"
        f" Spark layers {full - full_dbt - spark_start:.1f}s, dbt {full_dbt:.1f}s",
    )
    return figure, full, full_dbt


def _bench_fresh_process(root: Path, warehouse: Warehouse, full: float) -> list[Figure]:
    """Return the figures of one more day each in a fresh process, as a user or a scheduler would start it, with
    and without the JVM class archive."""
    from generator import generate

    figures: list[Figure] = []
    fresh: dict[str, float] = {}
    for archive in ("off", "on"):
        generate(warehouse, 1, progress=False)
        console.print(f"one more day, fresh process, class archive {archive} …")
        fresh[archive], output = _run_cli(str(root), "run", env_extra={"LAKEHOUSE_CLASS_ARCHIVE": archive})
        match = re.search(r"ready in ([0-9.]+)s", output)
        started = float(match[1]) if match else float("nan")
        figures.append(
            Figure(
                f"one more day, fresh process (class archive {archive})",
                f"{fresh[archive]:.1f} s",
                f"{fresh[archive] / full:.0%} of the full run; Spark start {started:.1f}s",
            )
        )
    figures.append(
        Figure("class archive speed-up", f"{fresh['off'] / fresh['on']:.2f}×", "one more day, fresh process, off / on")
    )
    return figures


def _bench_watch(settings: Settings, warehouse: Warehouse, full: float, full_dbt: float) -> list[Figure]:
    """Return the figures of one more day by `lakehouse run --watch`, whose Spark session stays up between days:
    the first days warm it."""
    from generator import generate
    from lakehouse.pipeline.watch import watch
    from lakehouse.spark import get_spark
    from lakehouse.tables import Tables

    spark = get_spark(settings, "lakehouse-bench")
    console.print(f"one more day, `run --watch`: {WATCHED_DAYS} days delivered one at a time …")

    runs: list[Cycle] = []
    delivered: list[GenerateResult] = []

    def deliver(_: float) -> None:  # the next day lands once the watcher has taken the last one
        if len(delivered) == len(runs) - 1:
            delivered.append(generate(warehouse, 1, progress=False))

    tables = Tables(warehouse, spark)
    cycles = watch(tables, every=0, max_runs=1 + WATCHED_DAYS, on_cycle=runs.append, sleep=deliver)[1:]
    spark.stop()
    days = [c.seconds for c in cycles]
    dbt_days = [_dbt_seconds(c.results) for c in cycles]
    spark_days = [day - dbt for day, dbt in zip(days, dbt_days, strict=True)]
    warm, warm_dbt, warm_spark = (statistics.median(each[-SETTLED_DAYS:]) for each in (days, dbt_days, spark_days))
    full_spark = full - full_dbt
    return [
        Figure(
            "one more day, `run --watch`: landing → Spark gold",
            f"{warm_spark:.1f} s",
            f"{warm_spark / full_spark:.1%} of the full run's {full_spark:.1f}s (its Spark start and layers);"
            f" target ≤ 10%; median of the last {SETTLED_DAYS} of {len(cycles)} days;"
            f" day by day {', '.join(f'{s:.1f}' for s in spark_days)}s",
        ),
        Figure(
            "one more day, `run --watch`: with dbt",
            f"{warm:.1f} s",
            f"{warm / full:.0%} of the full run; dbt {warm_dbt:.1f}s of it (medians of the last {SETTLED_DAYS} days);"
            f" day by day {', '.join(f'{day:.1f}' for day in days)}s",
        ),
    ]


def _bench_dashboards(warehouse: Warehouse) -> tuple[list[Figure], Exception | None]:
    """Return the figures of Superset on this warehouse (on a port of its own): chart queries and render times;
    and the failure, if it failed (the pipeline's figures are still worth printing; it is raised after them)."""
    from lakehouse.devtools import dashboard_bench

    os.environ.setdefault("SUPERSET_PORT", "8097")
    console.print("dashboards: Superset on the bench warehouse …")
    try:
        shown = dashboard_bench.measure(warehouse, progress=console.print)
        return [Figure(*row) for row in dashboard_bench.summary(shown)], None
    except Exception as exc:
        return [Figure("dashboards", "failed", f"{type(exc).__name__}: {exc}")], exc


def run_bench(
    days: int = 30, events_per_day: int | None = None, workdir: str | None = None, keep: bool = False
) -> None:
    """Measure the generator and the pipeline on a fresh warehouse and print the figures."""
    root = _fresh_root(workdir)
    settings = replace(load_settings(), warehouse=str(root.resolve()))
    warehouse = Warehouse(settings)
    console.print(f"Benchmark warehouse: {root} · {_machine()}")

    figures = _bench_generator(warehouse, days, events_per_day)
    full_run, full, full_dbt = _bench_full_run(settings, warehouse, days)
    figures.append(full_run)
    figures += _bench_fresh_process(root, warehouse, full)
    figures += _bench_watch(settings, warehouse, full, full_dbt)
    dashboards, failure = _bench_dashboards(warehouse)
    figures += dashboards

    table = Table(title="lakehouse bench", title_justify="left")
    table.add_column("measure")
    table.add_column("result", justify="right")
    table.add_column("detail")
    for f in figures:
        table.add_row(f.name, f.value, f.note)
    console.print(table)
    console.print(f"machine: {_machine()}; command: lakehouse bench --days {days}")
    if not keep and not workdir:
        shutil.rmtree(root, ignore_errors=True)
    if failure is not None:
        raise failure

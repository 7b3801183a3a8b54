"""The stack's benchmark behind `lakehouse bench --stack`: measures and prints; it asserts nothing.

1. The Spark layers (landing → Spark gold) for the same generated shop, embedded (delta-rs, local disk) and on the
   stack (delta-spark, S3), each a fresh `lakehouse run` process, with the driver's peak live heap (what a full
   collection leaves); then the dbt build on each (dbt-duckdb, dbt-trino), and one more day through every layer.
2. The Spark layers on three times the data, on the stack, as days three times as busy and as three times the days
   (both longer than a pass, LAKEHOUSE_PASS_MAX_MB): does the memory the driver holds grow with the data?
3. Trino: start to first answer, and `count(*)` of every table, cold and warm.

`--dbt-history` measures instead one more day's dbt step against the full build, with one and three times the
history, on both targets.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import JustifyMethod
from rich.table import Table

from lakehouse import dbt
from lakehouse.pipeline import LAYERS, SPARK_LAYERS, dbt_step
from lakehouse.report import console
from lakehouse.settings import Settings, load_settings
from lakehouse.warehouse import Warehouse

GC_LINE = re.compile(r"Pause (Young|Full) .*?(\d+)M->(\d+)M\(\d+M\)")
LIVE_SAMPLE_SECONDS = 10.0


def _collect_now(parent: int, stop: threading.Event) -> None:
    """Every few seconds, ask the run's JVM (a child of process `parent`) for a full collection.

    What a full collection leaves is what the driver holds at that moment; used heap at a random moment is mostly
    garbage not yet collected, which grows with how long the run takes rather than with what it holds.
    """
    while not stop.wait(LIVE_SAMPLE_SECONDS):
        found = subprocess.run(["pgrep", "-P", str(parent), "java"], capture_output=True, text=True, check=False)
        for jvm in found.stdout.split():
            subprocess.run(["jcmd", jvm, "GC.run"], capture_output=True, check=False)


# Spark's own accounting of the memory it manages (sort and hash pages, cached blocks), polled every 100 ms and
# written to an event log as each stage ends: the part of the heap that grows with what a task holds.
SPARK_MEMORY_CONF = """\
spark.eventLog.enabled true
spark.eventLog.dir file://{events}
spark.eventLog.compress false
spark.eventLog.logStageExecutorMetrics true
spark.executor.metrics.pollingInterval 100ms
"""


def _spark_memory(events: Path) -> tuple[float, str]:
    """Return the peak of the memory Spark's memory manager handed out (execution and storage, MB) in the run's
    event logs, and the step whose stage it was in (the job's description; 0 and "" when there is no log)."""
    peak, stage, steps = 0, None, {}
    for log in events.glob("*/events_*"):
        for line in log.read_text(errors="replace").splitlines():
            if '"SparkListenerStageSubmitted"' in line:
                submitted = json.loads(line)
                described = submitted.get("Properties", {}).get("spark.job.description", "")
                steps[submitted["Stage Info"]["Stage ID"]] = described.removeprefix("Delta: ").split(" (run ")[0]
            elif '"SparkListenerStageExecutorMetrics"' in line:
                metrics = json.loads(line)
                held = metrics["Executor Metrics"].get("OnHeapUnifiedMemory", 0)
                if held > peak:
                    peak, stage = held, metrics["Stage ID"]
    return peak / 2**20, steps.get(stage, "")


def _live_heap(log_dir: Path) -> float:
    """Return the driver's peak heap after the full collections asked for (MB; 0 if there was none)."""
    peak = 0.0
    for log in log_dir.glob("gc-*.log"):
        for kind, _, left in GC_LINE.findall(log.read_text(errors="replace")):
            if kind == "Full":
                peak = max(peak, float(left))
    return peak


STEP_LINE = re.compile(r"^\[\s*\d+/\d+\]\s+(\S+)\s.*?([\d.]+)s\s*$", re.MULTILINE)
PASS_LINE = re.compile(r"^pass (\d+): ", re.MULTILINE)


@dataclass
class Measured:
    """One `lakehouse run` process: its wall time, the driver's peak live heap, and each step's seconds."""

    seconds: float
    heap_mb: float
    steps: dict[str, float]
    spark_mb: float = 0.0  # the peak of what Spark's memory manager handed out
    passes: int = 1  # a backlog larger than a pass is taken in passes (LAKEHOUSE_PASS_MAX_MB)
    spark_peak_step: str = ""  # the step running the stage that peak was in


def _run(settings: Settings, label: str, layers: tuple[str, ...] = SPARK_LAYERS) -> Measured:
    """Run `layers` in a fresh `lakehouse run` process and measure it."""
    gc_logs = Path(tempfile.mkdtemp(prefix="lakehouse-bench-gc-"))
    events = gc_logs / "events"
    events.mkdir()
    (gc_logs / "spark-defaults.conf").write_text(SPARK_MEMORY_CONF.format(events=events))
    env = {
        **os.environ,
        **settings.s3.environment(),
        "LAKEHOUSE_ENV": settings.deployment,
        "LAKEHOUSE_WAREHOUSE": settings.warehouse,
        "LAKEHOUSE_DELTA_ENGINE": settings.delta_engine,
        # Every JVM the run starts logs its collections (%p: one file per process).
        "JAVA_TOOL_OPTIONS": f"-Xlog:gc:file={gc_logs}/gc-%p.log",
        "SPARK_CONF_DIR": str(gc_logs),
        "COLUMNS": "160",
    }
    command = [sys.executable, "-m", "lakehouse.cli", "run", *(a for layer in layers for a in ("--layer", layer))]
    console.print(f"{label}: lakehouse run ({', '.join(layers)}) …")
    clock = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stop = threading.Event()
    sampler = threading.Thread(target=_collect_now, args=(process.pid, stop), daemon=True)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - clock
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{label} failed:\n{output[-4000:]}")
    steps = {step: float(took) for step, took in STEP_LINE.findall(output)}
    live, (managed, peak_step) = _live_heap(gc_logs), _spark_memory(events)
    shutil.rmtree(gc_logs, ignore_errors=True)
    passes = max((int(n) for n in PASS_LINE.findall(output)), default=1)
    return Measured(seconds, live, steps, managed, passes, peak_step)


class _Shown(list):
    """Rows of figures, each printed as soon as it is measured: the whole bench takes a while."""

    def append(self, row: tuple[str, str, str]) -> None:
        console.print(" · ".join(row), markup=False)
        super().append(row)


def _bench_layers(
    embedded: Settings, on_stack: Settings, days: int, events_per_day: int | None, rows: _Shown
) -> Measured:
    """Generate one shop into the local and the S3 warehouse, take each through the Spark layers, dbt and one more
    day, and add their rows; return the stack's Spark run."""
    from generator import generate

    console.print(f"generating {days} days, twice (local and S3) …")
    for target in (embedded, on_stack):
        shop = generate(Warehouse(target), days, events_per_day=events_per_day, progress=False)
    events = shop.rows["events"]
    spark_runs, dbt_runs, next_days = {}, {}, {}
    for name, target in (("embedded", embedded), ("stack", on_stack)):
        spark_runs[name] = _run(target, name)
        dbt_runs[name] = _run(target, name, ("dbt",))
        generate(Warehouse(target), 1, events_per_day=events_per_day, progress=False)
        next_days[name] = _run(target, f"{name}, one more day", LAYERS)
    local, remote = spark_runs["embedded"], spark_runs["stack"]
    rows.append(
        (
            "Spark layers, embedded (delta-rs, local disk)",
            f"{local.seconds:.1f} s",
            f"{events:,} events; driver live heap, peak {local.heap_mb:,.0f} MB",
        )
    )
    rows.append(
        (
            "Spark layers, stack (delta-spark, S3)",
            f"{remote.seconds:.1f} s",
            f"{events:,} events; {remote.seconds / local.seconds:.1f}× embedded; target ≤ 180 s;"
            f" driver live heap, peak {remote.heap_mb:,.0f} MB",
        )
    )
    for name, label in (("embedded", "dbt-duckdb"), ("stack", "dbt-trino")):
        full, day = (
            dbt_runs[name].steps.get(dbt_step.STEP_NAME, 0.0),
            next_days[name].steps.get(dbt_step.STEP_NAME, 0.0),
        )
        rows.append((f"dbt build, {name} ({label}), full month", f"{full:.1f} s", "snapshots, models, tests"))
        rows.append(
            (
                f"one more day, {name}: every layer",
                f"{next_days[name].seconds:.1f} s",
                f"dbt {day:.1f} s = {day / max(full, 0.1):.0%} of the full build (incremental facts and daily marts)",
            )
        )
    return remote


def _bench_triple(triple: Settings, days: int, events_per_day: int | None, remote: Measured, rows: _Shown) -> None:
    """Take three times the data through the Spark layers on the stack, as days three times as busy and as three
    times the days; add their rows, memory against the 1× shop's run `remote`."""
    from generator import generate

    per_day = events_per_day or 33_000
    shops = {
        "3× busier days": (replace(triple, warehouse=f"{triple.warehouse}-busier"), days, per_day * 3),
        "3× the days": (replace(triple, warehouse=f"{triple.warehouse}-longer"), days * 3, per_day),
    }
    for label, (target, span, busy) in shops.items():
        shop = generate(Warehouse(target), span, events_per_day=busy, progress=False)
        run = _run(target, f"stack, {label}")
        rows.append(
            (
                f"Spark layers, stack, {label} ({span} days)",
                f"{run.seconds:.1f} s",
                f"{shop.rows['events']:,} events in {run.passes} passes (the 1× shop: {remote.passes})",
            )
        )
        rows.append(
            (
                f"  memory Spark manages (sort and hash pages, cached blocks), peak: 1× / {label}",
                f"{remote.spark_mb:,.0f} / {run.spark_mb:,.0f} MB",
                f"{run.spark_mb / max(remote.spark_mb, 1):.2f}×; target: flat; at the peak:"
                f" {remote.spark_peak_step or '?'} / {run.spark_peak_step or '?'}",
            )
        )
        rows.append(
            (
                f"  driver live heap (after a full collection every 10 s), peak: 1× / {label}",
                f"{remote.heap_mb:,.0f} / {run.heap_mb:,.0f} MB",
                f"{run.heap_mb / max(remote.heap_mb, 1):.2f}×; sampled, so it can miss a peak",
            )
        )


def _bench_trino(base: Settings, on_stack: Settings, rows: _Shown) -> dict[str, dict[str, float]]:
    """Restart Trino, so its first answer is measured from a cold start, then count every table cold and warm; add
    the rows and return the seconds by table and attempt."""
    from lakehouse import stack, trino
    from lakehouse.stack.supervisor import Supervisor

    (service,) = [s for s in stack.services(base) if s.name == "trino"]
    boss = Supervisor(Path(base.stack_dir))
    boss.stop(service)
    clock = time.perf_counter()
    boss.start(service, say=lambda line: None)
    with trino.connected(on_stack) as client:
        trino.register_tables(on_stack, Warehouse(on_stack))
        ready = time.perf_counter() - clock
        names = Warehouse(on_stack).tables()
        timings: dict[str, dict[str, float]] = {}
        for attempt in ("cold", "warm"):
            for name in names:
                started = time.perf_counter()
                client.execute(f"select count(*) from lakehouse.{name}")
                timings.setdefault(name, {})[attempt] = time.perf_counter() - started
    rows.append(("Trino: start → first answer", f"{ready:.1f} s", "launch, ready, schemas, register"))
    warm = sorted(t["warm"] for t in timings.values())
    cold = sorted(t["cold"] for t in timings.values())
    rows.append(
        (
            "Trino: count(*) per table, cold",
            f"{max(cold):.2f} s",
            f"max of {len(cold)} tables; median {cold[len(cold) // 2]:.2f} s",
        )
    )
    rows.append(
        (
            "Trino: count(*) per table, warm",
            f"{max(warm):.2f} s",
            f"max of {len(warm)} tables; median {warm[len(warm) // 2]:.2f} s; target ≤ 1 s",
        )
    )
    return timings


def _stack_started() -> tuple[Settings, str]:
    """Start the stack (making its keys if there are none); return its settings and a stamp naming this bench's
    warehouses."""
    from lakehouse import stack

    os.environ["LAKEHOUSE_ENV"] = "stack"
    stack.ensure_keys()  # the keys .env holds, or new ones made there
    base = load_settings()
    stack.up(base, say=lambda line: console.print(line, markup=False))
    return base, time.strftime("%Y%m%d-%H%M%S")


def _embedded(base: Settings) -> Settings:
    """Return `base` as the embedded deployment, on a new local warehouse under the temp folder."""
    root = tempfile.mkdtemp(prefix="lakehouse-bench-embedded-")
    return replace(base, deployment="embedded", warehouse=root, delta_engine="delta-rs")


def _print_table(title: str, rows: _Shown) -> None:
    table = Table(title=title, title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (("measure", "left"), ("result", "right"), ("detail", "left"))
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def run_stack_bench(days: int = 30, events_per_day: int | None = None) -> None:
    """Generate one shop into a local and an S3 warehouse, take both through the Spark layers, and time Trino."""
    base, stamp = _stack_started()
    embedded = _embedded(base)
    on_stack = replace(base, warehouse=f"s3://{base.bucket}/bench-{stamp}")
    triple = replace(base, warehouse=f"s3://{base.bucket}/bench-{stamp}-3x")
    rows = _Shown()
    remote = _bench_layers(embedded, on_stack, days, events_per_day, rows)
    _bench_triple(triple, days, events_per_day, remote, rows)
    timings = _bench_trino(base, on_stack, rows)
    _print_table("lakehouse bench --stack", rows)
    for name, t in sorted(timings.items()):
        console.print(f"  {name:<32} cold {t['cold']:.2f} s  warm {t['warm']:.2f} s")
    shutil.rmtree(embedded.warehouse, ignore_errors=True)


HISTORY_EVENTS_PER_DAY = 10_000  # the dbt history measure's shops: a day as busy in both, so only the history grows


def _incremental_seconds(settings: Settings) -> float:
    """Return the time dbt's last build spent in the incremental models (their own queries, as dbt timed them)."""
    target = Path(dbt.environment(Warehouse(settings))["DBT_TARGET_PATH"])
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    incremental = {key for key, node in nodes.items() if node.get("config", {}).get("materialized") == "incremental"}
    results = json.loads((target / "run_results.json").read_text())["results"]
    return sum(r["execution_time"] for r in results if r["unique_id"] in incremental)


def run_dbt_history_bench(days: int = 30, events_per_day: int | None = None) -> None:
    """One more day's dbt step against the full build, with `days` and three times `days` of history, on both
    targets: the shops differ only in how many days they hold, so what grows with history shows.

    Each shop is taken through the Spark layers (not timed), then `dbt` alone (the full build), then one more day
    through every layer, all in fresh `lakehouse run` processes.
    """
    from generator import generate

    base, stamp = _stack_started()
    per_day = events_per_day or HISTORY_EVENTS_PER_DAY
    rows = _Shown()
    for span in (days, 3 * days):
        on_stack = replace(base, warehouse=f"s3://{base.bucket}/bench-{stamp}-{span}d")
        for name, target in (("embedded", _embedded(base)), ("stack", on_stack)):
            label = f"{name}, {span} days of history"
            console.print(f"{label}: generating …")
            generate(Warehouse(target), span, events_per_day=per_day, progress=False)
            _run(target, label)
            full = _run(target, label, ("dbt",)).steps.get(dbt_step.STEP_NAME, 0.0)
            full_incremental = _incremental_seconds(target)
            generate(Warehouse(target), 1, events_per_day=per_day, progress=False)
            day = _run(target, f"{label}, one more day", LAYERS).steps.get(dbt_step.STEP_NAME, 0.0)
            day_incremental = _incremental_seconds(target)
            rows.append(
                (
                    f"dbt, {label} ({per_day:,} events a day)",
                    f"{day:.1f} s",
                    f"one more day; the full build {full:.1f} s; the day is {day / max(full, 0.1):.0%} of it; "
                    f"the incremental models alone {day_incremental:.1f} s against {full_incremental:.1f} s "
                    f"({day_incremental / max(full_incremental, 0.01):.0%})",
                )
            )
            if name == "embedded":
                shutil.rmtree(target.warehouse, ignore_errors=True)
    _print_table("lakehouse bench --stack --dbt-history", rows)

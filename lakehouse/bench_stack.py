"""The stack's benchmark behind `lakehouse bench --stack`: measures and prints; it asserts nothing.

1. The Spark layers (landing → Spark gold) for the same generated shop, embedded (delta-rs, local disk) and on the
   stack (delta-spark, S3), each a fresh `lakehouse run` process, with the driver's peak live heap (what a full collection leaves).
2. The same on a shop three times the size, on the stack: does the driver's heap grow with the data?
3. Trino: start to first answer, and `count(*)` of every table, cold and warm.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from rich.table import Table

from lakehouse.report import console
from lakehouse.settings import Settings, load_settings
from lakehouse.warehouse import Warehouse

SPARK_LAYERS = ("bronze", "silver", "gold")


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


def _live_heap(log_dir: Path) -> float:
    """Return the driver's peak heap after the full collections asked for (MB; 0 if there was none)."""
    peak = 0.0
    for log in log_dir.glob("gc-*.log"):
        for kind, _, left in GC_LINE.findall(log.read_text(errors="replace")):
            if kind == "Full":
                peak = max(peak, float(left))
    return peak


def _run(settings: Settings, label: str) -> tuple[float, float]:
    """Run the Spark layers in a fresh `lakehouse run` process; return (seconds, peak live driver heap in MB)."""
    gc_logs = Path(tempfile.mkdtemp(prefix="lakehouse-bench-gc-"))
    env = {
        **os.environ,
        **settings.s3.environment(),
        "LAKEHOUSE_ENV": settings.deployment,
        "LAKEHOUSE_WAREHOUSE": settings.warehouse,
        "LAKEHOUSE_DELTA_ENGINE": settings.delta_engine,
        # Every JVM the run starts logs its collections (%p: one file per process).
        "JAVA_TOOL_OPTIONS": f"-Xlog:gc:file={gc_logs}/gc-%p.log",
        "COLUMNS": "160",
    }
    command = [sys.executable, "-m", "lakehouse.cli", "run", *(a for layer in SPARK_LAYERS for a in ("--layer", layer))]
    console.print(f"{label}: lakehouse run (Spark layers) …")
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
    live = _live_heap(gc_logs)
    shutil.rmtree(gc_logs, ignore_errors=True)
    return seconds, live


def run_stack_bench(days: int = 30, events_per_day: int | None = None) -> None:
    """Generate one shop into a local and an S3 warehouse, take both through the Spark layers, and time Trino."""
    from generator import generate
    from lakehouse import stack, trino
    from lakehouse.stack.supervisor import Supervisor

    os.environ["LAKEHOUSE_ENV"] = "stack"
    load_settings()  # reads .env, where keys made before are found; then make them if there are none
    stack.ensure_keys()
    base = load_settings()
    stack.up(base, say=lambda line: console.print(line, markup=False))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    local_root = Path(tempfile.mkdtemp(prefix="lakehouse-bench-embedded-"))
    embedded = replace(base, deployment="embedded", warehouse=str(local_root), delta_engine="delta-rs")
    on_stack = replace(base, warehouse=f"s3://{base.bucket}/bench-{stamp}")
    triple = replace(base, warehouse=f"s3://{base.bucket}/bench-{stamp}-3x")
    rows: list[tuple[str, str, str]] = []

    class Shown(list):  # each figure is printed as soon as it is measured: the whole bench takes a while
        def append(self, row: tuple[str, str, str]) -> None:
            console.print(" · ".join(row), markup=False)
            super().append(row)

    rows = Shown()

    console.print(f"generating {days} days, twice (local and S3) …")
    for target in (embedded, on_stack):
        shop = generate(Warehouse(target), days, events_per_day=events_per_day, progress=False)
    events = shop.rows["events"]
    seconds, heap = _run(embedded, "embedded")
    rows.append(
        (
            "Spark layers, embedded (delta-rs, local disk)",
            f"{seconds:.1f} s",
            f"{events:,} events; driver live heap, peak {heap:,.0f} MB",
        )
    )
    seconds_stack, heap_stack = _run(on_stack, "stack")
    rows.append(
        (
            "Spark layers, stack (delta-spark, S3)",
            f"{seconds_stack:.1f} s",
            f"{events:,} events; {seconds_stack / seconds:.1f}× embedded; target ≤ 180 s;"
            f" driver live heap, peak {heap_stack:,.0f} MB",
        )
    )
    big = generate(Warehouse(triple), days, events_per_day=(events_per_day or 33_000) * 3, progress=False)
    seconds_big, heap_big = _run(triple, "stack, 3× shop")
    rows.append(
        (
            "Spark layers, stack, 3× shop",
            f"{seconds_big:.1f} s",
            f"{big.rows['events']:,} events; driver live heap, peak {heap_big:,.0f} MB"
            f" ({heap_big / max(heap_stack, 1):.2f}× the 1× shop's)",
        )
    )

    # Trino: restarted, so its first answer is measured from a cold start.
    (service,) = [s for s in stack.services(base) if s.name == "trino"]
    boss = Supervisor(Path(base.stack_dir))
    boss.stop(service)
    clock = time.perf_counter()
    boss.start(service, say=lambda line: None)
    with trino.connected(on_stack) as client:
        trino.register_tables(on_stack, Warehouse(on_stack))
        ready = time.perf_counter() - clock
        names = Warehouse(on_stack).tables()
        timings = {}
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

    table = Table(title="lakehouse bench --stack", title_justify="left")
    for column, justify in (("measure", "left"), ("result", "right"), ("detail", "left")):
        table.add_column(column, justify=justify)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for name, t in sorted(timings.items()):
        console.print(f"  {name:<32} cold {t['cold']:.2f} s  warm {t['warm']:.2f} s")
    shutil.rmtree(local_root, ignore_errors=True)

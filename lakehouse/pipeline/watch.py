"""`lakehouse run --watch`: one warm Spark session that takes each new landing batch through every layer as it lands.

A fresh `lakehouse run` pays for starting Spark, importing dbt and warming the JVM on every call; a watcher pays once
and then spends its time on the new data. It polls the landing zone; a run starts once new batches are there and the
listing has not changed for one poll (a producer still writing a day is not raced); on start-up it runs at once. A
failed run is reported, and tried again when new batches land (or the watcher restarts); Ctrl-C stops the watcher.

The watcher writes the warehouse for as long as it runs, so its caller holds the warehouse's write lease
(lakehouse/lease.py) all that time, idle or not: each run's id goes into the lease, and a watcher whose lease was
taken over starts no further run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lakehouse.entities import ENTITIES
from lakehouse.errors import PipelineError, UserError
from lakehouse.lease import Lease
from lakehouse.pipeline import bronze, runner
from lakehouse.pipeline.context import RunContext, StepResult, batch_day, batch_id
from lakehouse.tables import Tables

Pending = tuple[tuple[str, int], ...]


def pending_batches(tables: Tables) -> Pending:
    """Return the landing batches bronze has not taken yet, as sorted (entity, batch id) pairs."""
    tables.refresh()
    pending = []
    for entity in ENTITIES:
        spec = bronze.table_spec(entity)
        done = tables.watermark(spec.name, spec.name) or 0
        pending += [(entity.name, b) for d in tables.warehouse.landing_days(entity.name) if (b := batch_id(d)) > done]
    return tuple(sorted(pending))


@dataclass
class Cycle:
    """One run the watcher started: what it took, what it did, how long it took, and how it ended."""

    batches: Pending
    run_id: str = ""
    results: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


def watch(
    tables: Tables,
    *,
    every: float = 10.0,
    layers: Sequence[str] = runner.LAYERS,
    parallelism: int = 2,
    max_runs: int | None = None,
    listener: runner.Listener | None = None,
    on_cycle: Callable[[Cycle], None] = lambda cycle: None,
    sleep: Callable[[float], None] = time.sleep,
    lease: Lease | None = None,
) -> list[Cycle]:
    """Run the pipeline whenever new landing batches have settled; return the cycles once `max_runs` have run.

    With the warehouse's `lease` (held by the caller), raise a UserError instead of starting a run once it is lost.
    """
    cycles: list[Cycle] = []
    seen: Pending | None = None  # what the previous poll found
    failed_on: Pending | None = None  # what the last failed run was given: retried only once the landing changes
    while max_runs is None or len(cycles) < max_runs:
        pending = pending_batches(tables)
        # On start-up it runs once whatever it finds, as `lakehouse run` would (a step left behind by an earlier
        # failure included); after that only for new batches.
        if not cycles or (pending and pending == seen and pending != failed_on):
            ctx = RunContext(tables)
            if lease is not None:
                lease.check()
                lease.note_run(ctx.run_id)
            cycle = Cycle(pending, ctx.run_id)
            clock = time.perf_counter()
            try:
                cycle.results = runner.run(ctx, layers, listener, parallelism=parallelism)
            except (PipelineError, UserError) as exc:
                cycle.error = str(exc)
            cycle.seconds = time.perf_counter() - clock
            failed_on = pending if cycle.error else None
            cycles.append(cycle)
            on_cycle(cycle)
            seen = None
            continue
        seen = pending
        sleep(every)
    return cycles


def describe(cycle: Cycle) -> str:
    """Return one line on what a watcher's run did (or why it failed)."""
    if cycle.error:
        return f"run {cycle.run_id} failed after {cycle.seconds:.1f}s: {cycle.error}"
    worked = [r for r in cycle.results if r.did_work]
    if not worked:
        return f"run {cycle.run_id}: nothing new"
    days = sorted({b for _, b in cycle.batches})
    landed = "no new landing"
    if days:
        landed = f"landing {batch_day(days[0])}" + (f"..{batch_day(days[-1])}" if len(days) > 1 else "")
    rows_in = sum(r.rows_in for r in worked if r.step.startswith("bronze."))
    quarantined = sum(r.rows_quarantined for r in worked)
    return (
        f"run {cycle.run_id}: {landed}, {rows_in:,} records in, {quarantined:,} quarantined, "
        f"{len(worked)} steps in {cycle.seconds:.1f}s"
    )

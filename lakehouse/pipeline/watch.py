"""`lakehouse run --watch`: one warm Spark session that takes each new landing file through every layer as it lands.

A fresh `lakehouse run` pays for starting Spark, importing dbt and warming the JVM on every call; a watcher pays once
and then spends its time on the new data. It polls the landing zone; a run starts once files the landing ledger has
not taken are there (new, late, changed: lakehouse/pipeline/landing.py) and the listing, sizes and modification times
included, has not changed for one poll (a producer still writing is not raced); on start-up it runs at once. A
failed run is reported, and tried again when the waiting files change (or the watcher restarts); Ctrl-C stops it.

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
from lakehouse.pipeline import landing, runner
from lakehouse.pipeline.context import RunContext, StepResult
from lakehouse.tables import Tables

# (feed, file, size, modification time) of each waiting file: a file still being written changes between polls.
Pending = tuple[tuple[str, str, int, str], ...]


def pending_files(tables: Tables) -> Pending:
    """Return the landing files bronze has not taken yet (landing.waiting), sorted."""
    tables.refresh()
    pending = []
    for entity in ENTITIES:
        pending += [(entity.name, f.uri, f.size, f.modified.isoformat()) for f in landing.waiting(tables, entity)]
    return tuple(sorted(pending))


@dataclass
class Cycle:
    """One run the watcher started: what it took, what it did, how long it took, and how it ended."""

    files: Pending
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
    """Run the pipeline whenever new landing files have settled; return the cycles once `max_runs` have run.

    With the warehouse's `lease` (held by the caller), raise a UserError instead of starting a run once it is lost.
    """
    cycles: list[Cycle] = []
    seen: Pending | None = None  # what the previous poll found
    failed_on: Pending | None = None  # what the last failed run was given: retried only once the landing changes
    while max_runs is None or len(cycles) < max_runs:
        pending = pending_files(tables)
        # On start-up it runs once whatever it finds, as `lakehouse run` would (a step left behind by an earlier
        # failure included); after that only for new files.
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
    landed = f"{len(cycle.files)} landing files" if cycle.files else "no new landing"
    rows_in = sum(r.rows_in for r in worked if r.layer == "bronze")
    quarantined = sum(r.rows_quarantined for r in worked)
    return (
        f"run {cycle.run_id}: {landed}, {rows_in:,} records in, {quarantined:,} quarantined, "
        f"{len(worked)} steps in {cycle.seconds:.1f}s"
    )

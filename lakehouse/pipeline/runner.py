"""Runs pipeline steps in dependency order, several at a time, and records every step in the audit.

Each step names the steps it needs. Steps whose needs are met run concurrently on a small thread pool sharing the
one Spark session: on a laptop most of a small step's time is the driver planning and compiling its job, which
overlaps well with another step's execution. A free worker takes the ready step that heads the longest chain of
steps still to come. The first failure stops new steps from starting; the run then ends with a PipelineError naming
the step.
"""

from __future__ import annotations

import tempfile
import threading
import time
import traceback
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path

from lakehouse import native_panics
from lakehouse.errors import PipelineError, UserError
from lakehouse.pipeline import LAYERS, SPARK_LAYERS, audit, bronze, dbt_step, gold, landing, silver
from lakehouse.pipeline.context import RunContext, Step, StepResult
from lakehouse.pipeline.publish import refresh_dashboards, register_in_sql_engine
from lakehouse.report import Listener

# The steps of each layer, as declared beside their code.
_DECLARED = {"bronze": bronze.STEPS, "silver": silver.STEPS, "gold": gold.STEPS, "dbt": dbt_step.STEPS}


def steps_of(layer: str) -> list[Step]:
    """Return the steps of a layer with what each needs, in a valid order."""
    if layer not in _DECLARED:
        raise UserError(f"unknown layer {layer!r}: choose from {', '.join(LAYERS)}")
    return list(_DECLARED[layer])


def chain_lengths(needs: Mapping[str, Collection[str]]) -> dict[str, int]:
    """Return, for each step (name → the steps it needs), how many steps the longest chain it starts has.

    A chain counts the step itself. Of the steps ready to start, the one heading the longest chain goes first, so
    the run does not end on a chain that started late (orders → order status → product metrics) while the other
    core has nothing left to do.
    """
    dependents: dict[str, list[str]] = {name: [] for name in needs}
    for name, its_needs in needs.items():
        for need in its_needs:
            dependents[need].append(name)
    lengths: dict[str, int] = {}

    def length(name: str) -> int:
        if name not in lengths:
            lengths[name] = 1 + max((length(d) for d in dependents[name]), default=0)
        return lengths[name]

    return {name: length(name) for name in needs}


def _timed(ctx: RunContext, step: Step) -> StepResult:
    started, clock = datetime.now(UTC), time.perf_counter()
    spark = ctx.tables.spark
    if spark is not None:  # Spark's jobs carry the step and run that started them (an event log, a history server)
        spark.sparkContext.setJobDescription(f"{step.name} (run {ctx.run_id})")
    try:
        result = step.run(ctx)
    except UserError:
        raise
    except Exception as exc:
        result = StepResult(step=step.name, table=step.name, status="failed", error=f"{type(exc).__name__}: {exc}")
        result.trace = traceback.format_exc()
    finally:
        if spark is not None:
            spark.sparkContext.setJobDescription(None)  # type: ignore[arg-type]  # None clears it
    if result.step != step.name:  # the run, its audit and its markers know a step by its declared name
        error = f"the step declared as {step.name} reported itself as {result.step}"
        result = StepResult(step=step.name, table=step.name, status="failed", error=error)
    result.started_at, result.seconds = started, time.perf_counter() - clock
    return result


class _Schedule:
    """One run's moving parts: the steps waiting, running and finished, and the results not yet in the audit."""

    def __init__(self, ctx: RunContext, plan: list[Step], listener: Listener, parallelism: int):
        self.ctx, self.plan, self.listener = ctx, plan, listener
        planned = {s.name for s in plan}
        # Needs outside the layers being run (e.g. bronze when only silver runs) are taken as met.
        self.needs = {s.name: {n for n in s.needs if n in planned} for s in plan}
        self.chains = chain_lengths(self.needs)
        self.results: dict[str, StepResult] = {}
        self.failed: list[StepResult] = []
        self.lock = threading.Lock()
        self.counter = iter(range(1, len(plan) + 1))
        self.pending = list(plan)
        self.running: dict[Future[StepResult], Step] = {}
        self.unrecorded: list[StepResult] = []
        self.workers = max(1, parallelism)

    def work(self, step: Step) -> StepResult:
        with self.lock:
            index = next(self.counter)
        self.listener.started(step.name, index, len(self.plan))
        result = _timed(self.ctx, step)
        self.listener.finished(result, index, len(self.plan))
        return result

    def record(self) -> None:
        try:
            audit.record(self.ctx, self.unrecorded)
        except Exception as exc:  # storage gone away, say: the steps' own commits stand, the next run goes on
            raise PipelineError(f"recording the run in {audit.RUN_AUDIT.name} failed: {_first_line(str(exc))}") from exc
        self.unrecorded.clear()

    def start_ready(self, pool: ThreadPoolExecutor) -> None:
        """Start ready steps while a worker is free: a step is chosen when it can start, not queued in advance."""
        ready = [s for s in self.pending if self.needs[s.name] <= self.results.keys()]
        free = self.workers - len(self.running)
        for step in sorted(ready, key=lambda s: -self.chains[s.name])[:free]:  # ties: plan order
            if step.reads_audit and self.unrecorded:
                self.record()
            self.pending.remove(step)
            self.running[pool.submit(self.work, step)] = step

    def drive(self) -> None:
        """Run steps until none is running; after a failure the running steps finish and no more start."""
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="step") as pool:
            self.start_ready(pool)
            while self.running:
                done, _ = wait(self.running, return_when=FIRST_COMPLETED)
                for future in done:
                    step = self.running.pop(future)
                    result = future.result()  # a UserError from a step is raised here, unchanged
                    self.results[step.name] = result
                    self.unrecorded.append(result)
                    if result.status == "failed":
                        self.failed.append(result)
                # The steps this unblocks start first; the audit rows are written while they run, in one commit.
                if not self.failed:
                    self.start_ready(pool)
                self.record()


def run(
    ctx: RunContext,
    layers: Sequence[str] = LAYERS,
    listener: Listener | None = None,
    parallelism: int = 2,
) -> list[StepResult]:
    """Run every step of `layers`; return what each did, in plan order. A failed step raises a PipelineError.

    A backlog of landing files larger than a pass (`LAKEHOUSE_PASS_MAX_MB`) is taken in passes of whole landing days
    (landing.next_pass): each pass runs the Spark layers over its days as a run of its own in the audit (run id
    `<run>+<pass>`), and dbt runs once, with the last. What a step returns counts every pass.
    """
    listener = listener or Listener()
    ctx.tables.refresh()
    plan = [step for layer in layers for step in steps_of(layer)]
    in_passes = [step for step in plan if step.layer in SPARK_LAYERS]
    limit = ctx.warehouse.settings.pass_max_bytes if "bronze" in layers else 0
    results: dict[str, StepResult] = {}
    number = 1
    try:
        while True:
            part = landing.next_pass(ctx.tables, limit) if limit else None
            until = part.until if part is not None else None  # None: this pass takes everything waiting
            final = until is None
            if part is not None and (number > 1 or not final):
                listener.note(f"pass {number}: {part.describe()}")
            if number > 1:
                ctx = ctx.next_pass(number, until)
            else:
                ctx.landing_until = until
            schedule = _Schedule(ctx, plan if final else in_passes, listener, parallelism)
            try:
                schedule.drive()
            finally:
                if schedule.unrecorded:  # a step raised a UserError: the steps that finished are still recorded
                    schedule.record()
                for name, result in schedule.results.items():
                    results[name] = combined(results[name], result) if name in results else result
            if schedule.failed:
                first = schedule.failed[0]
                log = _write_log(ctx, schedule.failed)
                raise PipelineError(f"step {first.step} failed: {_first_line(first.error or '')} (details: {log})")
            if final:
                break
            if not any(r.layer == "bronze" and r.did_work for r in schedule.results.values()):
                raise PipelineError(f"pass {number} took no landing file of the days up to {until}; stopping")
            number += 1
    finally:
        if any(r.status != "skipped" for r in results.values()):
            refresh_dashboards(ctx)
    register_in_sql_engine(ctx)  # after a failure, the next run registers what this one wrote
    return [results[s.name] for s in plan if s.name in results]


def combined(earlier: StepResult, later: StepResult) -> StepResult:
    """Return one step's results of two passes of a run as one: the batches of both, their rows and seconds."""
    if not later.did_work:
        earlier.seconds += later.seconds
        return earlier
    if earlier.did_work:
        later.absorb(earlier)
        later.started_at = earlier.started_at
    later.seconds += earlier.seconds
    return later


def _write_log(ctx: RunContext, failed: Sequence[StepResult]) -> str:
    """Write the failed steps' tracebacks under the warehouse (or, if it cannot be reached, a local temp file)."""
    uri = ctx.warehouse.state_uri("logs", f"run-{ctx.run_id}.log")
    reports = [f"step {r.step} failed\n{r.trace or r.error}" for r in failed]
    reports += [f"printed by delta-rs (kept off the console)\n{panic}" for panic in native_panics.held()]
    text = "\n\n".join(reports).encode("utf-8")
    try:
        ctx.warehouse.write_bytes(uri, text)
    except OSError:
        local = Path(tempfile.gettempdir()) / f"lakehouse-run-{ctx.run_id}.log"
        local.write_bytes(text)
        return str(local)
    return uri


def _first_line(text: str) -> str:
    text = text.strip() or "unknown error"
    return text.splitlines()[0][:400]

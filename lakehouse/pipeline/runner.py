"""Runs pipeline steps in order, times them, stops at the first failure and records every step in the audit."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial

from lakehouse.entities import ENTITIES
from lakehouse.errors import PipelineError, UserError
from lakehouse.pipeline import audit, bronze, gold, silver
from lakehouse.pipeline.context import RunContext, StepResult

Step = Callable[[RunContext], StepResult]
LAYERS = ("bronze", "silver", "gold")


def steps_of(layer: str) -> list[tuple[str, Step]]:
    """Return the named steps of a layer, in the order they must run."""
    if layer == "bronze":
        return [(f"bronze.{e.name}", partial(bronze.ingest, entity=e)) for e in ENTITIES]
    if layer == "silver":
        return [(f"silver.{fn.__name__}", fn) for fn in silver.STEPS]
    if layer == "gold":
        return [(f"gold.{fn.__name__}", fn) for fn in gold.STEPS]
    raise UserError(f"unknown layer {layer!r}: choose from {', '.join(LAYERS)}")


class Listener:
    """Hears about steps as they start and finish (the CLI shows progress with it)."""

    def started(self, step: str, index: int, total: int) -> None: ...
    def finished(self, result: StepResult, index: int, total: int) -> None: ...


def run(ctx: RunContext, layers: Sequence[str] = LAYERS, listener: Listener | None = None) -> list[StepResult]:
    """Run every step of `layers` in order; return what each did. A failing step stops the run with a PipelineError."""
    listener = listener or Listener()
    plan = [named for layer in layers for named in steps_of(layer)]
    results: list[StepResult] = []
    try:
        for index, (name, step) in enumerate(plan, start=1):
            listener.started(name, index, len(plan))
            started, clock = datetime.now(UTC), time.perf_counter()
            try:
                result = step(ctx)
            except UserError:
                raise
            except Exception as exc:
                failed = StepResult(step=name, table=name, status="failed", error=f"{type(exc).__name__}: {exc}")
                failed.started_at, failed.seconds = started, time.perf_counter() - clock
                results.append(failed)
                listener.finished(failed, index, len(plan))
                raise PipelineError(f"step {name} failed: {_first_line(exc)}") from exc
            result.started_at, result.seconds = started, time.perf_counter() - clock
            results.append(result)
            listener.finished(result, index, len(plan))
    finally:
        audit.record(ctx, results)
    return results


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:400]

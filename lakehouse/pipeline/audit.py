"""The run audit: one row per pipeline step that did work, in `ops.run_audit`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from lakehouse.pipeline.context import RunContext, StepResult, next_batch
from lakehouse.tables import Commit, TableSpec, rows_added

RUN_AUDIT = TableSpec(
    "ops.run_audit",
    "Every pipeline step that did work: batches, rows in/out/quarantined/duplicate, duration, status and error.",
    keys=("run_id", "step"),
)

SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("step", pa.string()),
        ("layer", pa.string()),
        ("target_table", pa.string()),
        ("batch_from", pa.int32()),
        ("batch_to", pa.int32()),
        ("rows_in", pa.int64()),
        ("rows_out", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("rows_duplicate", pa.int64()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("notes", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("duration_seconds", pa.float64()),
    ]
)


def recorded(ctx: RunContext) -> dict[str, int]:
    """Return the last batch each step is recorded as having done (read once per run; steps side by side may both
    read it, and each sees it whole)."""
    if ctx.recorded is None:
        found: dict[str, int] = {}
        if ctx.tables.exists(RUN_AUDIT.name):
            sql = "select step, max(batch_to) as batch from t where status = 'ok' group by step"
            found = {row["step"]: row["batch"] or 0 for row in ctx.tables.query(RUN_AUDIT.name, sql).to_pylist()}
        ctx.recorded = found
    return ctx.recorded


def closing(commit: Commit, result: StepResult, rows_out: int | None) -> Commit:
    """Return `commit` noting `result`'s counts, for a step's last commit: rows out when known before the commit
    (otherwise the commit's own metrics tell). If the run stops after that commit, the next one records them."""
    facts = {"batch_from": result.batch_from, "batch_to": result.batch_to, "rows_in": result.rows_in}
    return commit.noting({**facts, "rows_quarantined": result.rows_quarantined, "rows_out": rows_out})


def unrecorded(ctx: RunContext, step: str, table: str, done: int) -> StepResult | None:
    """Return what a run that committed `step`'s batches up to `done` to `table`, then stopped before recording
    them, did (from the counts noted in its last commit); None when the audit has every batch the step committed."""
    recorded_to = recorded(ctx).get(step, 0)
    if done <= recorded_to:
        return None
    lost = StepResult(step=step, table=table, batch_from=next_batch(recorded_to) if recorded_to else None)
    lost.batch_to = done
    noted = ctx.tables.note(table, Commit(step, done))
    if noted is None:
        lost.notes.append(f"batches to {done} were committed by a run that stopped before recording them")
        return lost
    lost.rows_in, lost.rows_quarantined = noted["rows_in"], noted["rows_quarantined"]
    out = noted.get("rows_out")
    lost.rows_out = int(out) if out is not None else rows_added(noted["metrics"])
    lost.rows_duplicate = lost.rows_in - lost.rows_quarantined - lost.rows_out
    lost.notes.append(f"recorded from the commit of batch {done}: its run stopped before recording it")
    return lost


def record(ctx: RunContext, results: Sequence[StepResult]) -> None:
    """Append the steps that did work to `ops.run_audit` (nothing when none did, so an idle run writes nothing)."""
    rows = []
    for r in results:
        if not r.did_work:
            continue
        started = r.started_at or datetime.now(UTC)
        rows.append(
            (
                ctx.run_id,
                r.step,
                r.step.split(".", 1)[0],
                r.table,
                r.batch_from,
                r.batch_to,
                r.rows_in,
                r.rows_out,
                r.rows_quarantined,
                r.rows_duplicate,
                r.status,
                r.error,
                "; ".join(r.notes) or None,
                started,
                started + timedelta(seconds=r.seconds),
                round(r.seconds, 3),
            )
        )
    if rows:
        ctx.tables.append(
            RUN_AUDIT, pa.Table.from_pylist([dict(zip(SCHEMA.names, r, strict=True)) for r in rows], SCHEMA)
        )

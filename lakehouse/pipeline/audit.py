"""The run audit: one row per pipeline step that did work, in `ops.run_audit`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pyspark.sql import types as T

from lakehouse.pipeline.context import RunContext, StepResult
from lakehouse.tables import TableSpec

RUN_AUDIT = TableSpec(
    "ops.run_audit",
    "Every pipeline step that did work: batches, rows in/out/quarantined/duplicate, duration, status and error.",
    keys=("run_id", "step"),
)
TABLES = (RUN_AUDIT,)

SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType()),
        T.StructField("step", T.StringType()),
        T.StructField("layer", T.StringType()),
        T.StructField("target_table", T.StringType()),
        T.StructField("batch_from", T.IntegerType()),
        T.StructField("batch_to", T.IntegerType()),
        T.StructField("rows_in", T.LongType()),
        T.StructField("rows_out", T.LongType()),
        T.StructField("rows_quarantined", T.LongType()),
        T.StructField("rows_duplicate", T.LongType()),
        T.StructField("status", T.StringType()),
        T.StructField("error", T.StringType()),
        T.StructField("notes", T.StringType()),
        T.StructField("started_at", T.TimestampType()),
        T.StructField("finished_at", T.TimestampType()),
        T.StructField("duration_seconds", T.DoubleType()),
    ]
)


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
        ctx.tables.append(RUN_AUDIT, ctx.spark.createDataFrame(rows, SCHEMA))

"""Gold (the Spark part): sessions from the clickstream and daily product metrics.

Both are recomputed only for the days the new silver rows touch (late events reopen their own day) and written with
an overwrite of exactly those days, so a re-run or a late arrival never duplicates a session or a metric.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from pyspark.sql import functions as F

from lakehouse.pipeline import silver
from lakehouse.pipeline.context import RunContext, StepResult
from lakehouse.tables import Commit, TableSpec, sql_in
from lakehouse.transforms import gold as tf

SESSION_GAP_MINUTES = 30

SESSIONS = TableSpec(
    "gold.sessions",
    f"Clickstream sessions: a visitor's events with gaps under {SESSION_GAP_MINUTES} minutes, on the day they began;"
    " duration, pages, products viewed, and whether the visit reached cart, checkout and purchase.",
    keys=("session_id",),
    partition_by=("session_date",),
)
DAILY_PRODUCT_METRICS = TableSpec(
    "gold.daily_product_metrics",
    "Per product and day: views, unique viewers, cart adds and removes, orders, units, revenue,"
    " cancellations and returns.",
    keys=("metric_date", "product_id"),
)
TABLES = (SESSIONS, DAILY_PRODUCT_METRICS)


def _changed_days(ctx: RunContext, table: str, day_column: str, lo: int, hi: int) -> list[date]:
    """Return the days with rows that batches (lo, hi] added or changed (a delta-rs query, no Spark job)."""
    sql = f"select distinct {day_column} from t where _batch_id > {lo} and _batch_id <= {hi}"
    return sorted(d for d in ctx.tables.query(table, sql).column(0).to_pylist() if d is not None)


def sessions(ctx: RunContext) -> StepResult:
    """Rebuild the sessions of every day that received events since the last run."""
    result = StepResult(step="gold.sessions", table=SESSIONS.name)
    done = ctx.tables.watermark(SESSIONS.name, result.step) or 0
    available = ctx.tables.least_watermark([(silver.EVENTS.name, "silver.events")])
    if available <= done:
        result.status = "skipped"
        return result
    result.batch_from, result.batch_to = done + 1 if done else None, available
    days = _changed_days(ctx, silver.EVENTS.name, "event_date", done, available)
    # A session that starts on a changed day may have begun just before midnight or run past it.
    context_days = sorted({d + timedelta(days=k) for d in days for k in (-1, 0, 1)})
    events = ctx.tables.read(silver.EVENTS.name, where=sql_in("event_date", context_days))
    result.rows_in = 0
    built = events.transform(tf.sessionize(SESSION_GAP_MINUTES)).where(F.col("session_date").isin(days))
    written = ctx.tables.overwrite(
        SESSIONS, built, predicate=sql_in("session_date", days), commit=Commit(result.step, available)
    )
    result.rows_out = written.rows
    result.notes.append(f"{len(days)} days rebuilt")
    return result


def daily_product_metrics(ctx: RunContext) -> StepResult:
    """Recompute product metrics for every day with new events or with orders that changed."""
    result = StepResult(step="gold.daily_product_metrics", table=DAILY_PRODUCT_METRICS.name)
    done = ctx.tables.watermark(DAILY_PRODUCT_METRICS.name, result.step) or 0
    available = ctx.tables.least_watermark(
        [
            (silver.EVENTS.name, "silver.events"),
            (silver.ORDERS.name, "silver.orders"),
            (silver.ORDERS.name, "silver.order_status"),
        ]
    )
    if available <= done:
        result.status = "skipped"
        return result
    result.batch_from, result.batch_to = done + 1 if done else None, available
    days = sorted(
        set(_changed_days(ctx, silver.EVENTS.name, "event_date", done, available))
        | set(_changed_days(ctx, silver.ORDERS.name, "order_date", done, available))
    )
    events = ctx.tables.read(silver.EVENTS.name, where=sql_in("event_date", days))
    items = ctx.tables.read(silver.ORDER_ITEMS.name).where(F.col("order_date").isin(days))
    orders = ctx.tables.read(silver.ORDERS.name).where(F.col("order_date").isin(days))
    built = events.transform(tf.daily_product_metrics(items, orders))
    written = ctx.tables.overwrite(
        DAILY_PRODUCT_METRICS,
        built,
        predicate=sql_in("metric_date", days),
        commit=Commit(result.step, available),
    )
    result.rows_out = written.rows
    result.notes.append(f"{len(days)} days rebuilt")
    return result


STEPS: tuple[Callable[[RunContext], StepResult], ...] = (sessions, daily_product_metrics)

"""Gold (the Spark part): sessions from the clickstream and daily product metrics.

Both are recomputed only for the days the new silver rows touch (late events reopen their own day) and written with
an overwrite of exactly those days, so a re-run or a late arrival never duplicates a session or a metric.
"""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import functions as F

from lakehouse.entities import EVENTS as EVENT_FEED
from lakehouse.entities import ORDER_STATUS as STATUS_FEED
from lakehouse.entities import ORDERS as ORDER_FEED
from lakehouse.pipeline import landing, silver
from lakehouse.pipeline.context import RunContext, Step, StepResult, next_batch
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
# Gold's tables made by Spark, for the table catalog (lakehouse/pipeline/catalog.py); dbt's join them there.
TABLES = (SESSIONS, DAILY_PRODUCT_METRICS)


def _changed_days(ctx: RunContext, table: str, day_column: str, lo: int, hi: int) -> list[date]:
    """Return the days with rows that batches (lo, hi] added or changed (a delta-rs query, no Spark job)."""
    sql = f"select distinct {day_column} from t where _batch_id > {lo} and _batch_id <= {hi}"
    return sorted(d for d in ctx.tables.query(table, sql).column(0).to_pylist() if d is not None)


def sessions(ctx: RunContext) -> StepResult:
    """Rebuild the sessions of the visitors with new events, on every day that received events since the last run.

    Late events touch a few visitors on an old day; their sessions there are rebuilt and every other session of
    that day is kept as it was, so a day of late arrivals costs a few visitors' events, not the whole day's.
    """
    result = StepResult(step=SESSIONS.name, table=SESSIONS.name)
    done = ctx.tables.watermark(SESSIONS.name, result.step) or 0
    available = landing.available(ctx.tables, INPUTS[result.step], INPUTS)
    # Batches numbered for other feeds move `available` on; only a batch of its inputs gives the step work.
    if available <= done or landing.newest(ctx.tables, INPUTS[result.step]) <= done:
        result.status = "skipped"
        return result
    result.batch_from, result.batch_to = next_batch(done) if done else None, available
    new = ctx.tables.rows(
        silver.EVENTS.name,
        f"select distinct event_date, anonymous_id from t where _batch_id > {done} and _batch_id <= {available}",
    )
    days = new.values("event_date")
    # A session that starts on a changed day may have begun just before midnight or run past it.
    context_days = sorted({d + timedelta(days=k) for d in days for k in (-1, 0, 1)})
    events = ctx.tables.read(silver.EVENTS.name, where=sql_in("event_date", context_days))
    visitors = None
    if ctx.tables.exists(SESSIONS.name):
        visitors = new.distinct(["anonymous_id"])
        events = events.join(F.broadcast(visitors.frame(ctx.spark)), on="anonymous_id", how="left_semi")
    rebuilt = ctx.tables.materialize(
        events.transform(tf.sessionize(SESSION_GAP_MINUTES)).where(F.col("session_date").isin(days))
    )
    held, built = [new, rebuilt], rebuilt
    if visitors is not None:  # keep the other visitors' sessions of those days
        before = ctx.tables.rows(SESSIONS.name, f"select * from t where {sql_in('session_date', days)}")
        built = rebuilt.concat(before.anti_join(visitors, ["anonymous_id"]))
        held.append(before)
    written = ctx.tables.overwrite(
        SESSIONS, built, predicate=sql_in("session_date", days), commit=Commit(result.step, available)
    )
    result.rows_out = written.rows
    visitors_note = "" if visitors is None else f", {visitors.num_rows} visitors' sessions rebuilt"
    for rows in held:
        rows.release()
    result.notes.append(f"{len(days)} days{visitors_note}")
    return result


def daily_product_metrics(ctx: RunContext) -> StepResult:
    """Recompute product metrics for every day with new events or with orders that changed."""
    result = StepResult(step=DAILY_PRODUCT_METRICS.name, table=DAILY_PRODUCT_METRICS.name)
    done = ctx.tables.watermark(DAILY_PRODUCT_METRICS.name, result.step) or 0
    available = landing.available(ctx.tables, INPUTS[result.step], INPUTS)
    # Batches numbered for other feeds move `available` on; only a batch of its inputs gives the step work.
    if available <= done or landing.newest(ctx.tables, INPUTS[result.step]) <= done:
        result.status = "skipped"
        return result
    result.batch_from, result.batch_to = next_batch(done) if done else None, available
    event_days = _changed_days(ctx, silver.EVENTS.name, "event_date", done, available)
    order_days = _changed_days(ctx, silver.ORDERS.name, "order_date", done, available)
    days = sorted(set(event_days) | set(order_days))
    # Status changes reopen old order days; their events are unchanged, so their traffic is taken as it stands.
    sales_only = sorted(set(order_days) - set(event_days))
    known_traffic, traffic_days = None, days
    if sales_only and ctx.tables.exists(DAILY_PRODUCT_METRICS.name):
        columns = ", ".join(("metric_date", "product_id", *tf.TRAFFIC_COLUMNS))
        sql = f"select {columns} from t where {sql_in('metric_date', sales_only)}"
        known_traffic = ctx.tables.rows(DAILY_PRODUCT_METRICS.name, sql).frame(ctx.spark)
        traffic_days = event_days
    events = ctx.tables.read(silver.EVENTS.name, where=sql_in("event_date", traffic_days))
    items = ctx.tables.read(silver.ORDER_ITEMS.name).where(F.col("order_date").isin(days))
    orders = ctx.tables.read(silver.ORDERS.name).where(F.col("order_date").isin(days))
    built = events.transform(tf.daily_product_metrics(items, orders, known_traffic))
    written = ctx.tables.overwrite(
        DAILY_PRODUCT_METRICS,
        built,
        predicate=sql_in("metric_date", days),
        commit=Commit(result.step, available),
    )
    result.rows_out = written.rows
    result.notes.append(f"{len(days)} days rebuilt, {len(sales_only)} of them from their orders alone")
    return result


# A gold step is named after the table it writes, as a bronze step is.
STEPS = (
    Step(
        SESSIONS.name,
        sessions,
        reads=(silver.EVENTS.name, SESSIONS.name),
        writes=(SESSIONS.name,),
        needs=(silver.step_name(EVENT_FEED),),
        marker=SESSIONS.name,
    ),
    Step(
        DAILY_PRODUCT_METRICS.name,
        daily_product_metrics,
        reads=(silver.EVENTS.name, silver.ORDERS.name, silver.ORDER_ITEMS.name, DAILY_PRODUCT_METRICS.name),
        writes=(DAILY_PRODUCT_METRICS.name,),
        needs=tuple(silver.step_name(feed) for feed in (EVENT_FEED, ORDER_FEED, STATUS_FEED)),
        marker=DAILY_PRODUCT_METRICS.name,
    ),
)

# The batch markers each gold step reads its batches by: those of the silver steps it needs.
INPUTS = {step.name: tuple(silver.BY_NAME[need].mark for need in step.needs) for step in STEPS}

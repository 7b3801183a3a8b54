"""Gold transforms done in Spark: clickstream sessions and daily product metrics."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

Transform = Callable[[DataFrame], DataFrame]


def _count_if(condition: Column) -> Column:
    return F.count(F.when(condition, True))


def _is(event_type: str) -> Column:
    return F.col("event_type") == event_type


def _number_sessions(events: DataFrame, gap_seconds: int) -> DataFrame:
    """Return events with `_session_no`: a visitor's running count of events that start a session."""
    order = Window.partitionBy("anonymous_id").orderBy("event_ts", "event_id")
    previous = F.lag("event_ts").over(order)
    starts = previous.isNull() | (F.unix_timestamp("event_ts") - F.unix_timestamp(previous) > F.lit(gap_seconds))
    return events.withColumn("_starts", starts.cast("int")).withColumn(
        "_session_no",
        F.sum("_starts").over(order.rowsBetween(Window.unboundedPreceding, Window.currentRow)),
    )


def _session_aggregates() -> list[Column]:
    """Return the aggregates of one session's events (first values by event time, then event id)."""
    first = F.struct("event_ts", "event_id")
    return [
        F.min("event_ts").alias("session_start"),
        F.max("event_ts").alias("session_end"),
        F.count("*").alias("events"),
        _count_if(_is("page_view")).alias("page_views"),
        _count_if(_is("product_view")).alias("product_views"),
        F.count_distinct(F.when(_is("product_view"), F.col("product_id"))).alias("products_viewed"),
        _count_if(_is("add_to_cart")).alias("add_to_carts"),
        F.max_by("customer_id", F.when(F.col("customer_id").isNotNull(), first)).alias("customer_id"),
        F.min_by("device", first).alias("device"),
        F.min_by("country", first).alias("country"),
        F.min_by("referrer", first).alias("referrer"),
        F.min_by("page_url", first).alias("landing_page"),
        F.bool_or(_is("add_to_cart")).alias("reached_cart"),
        F.bool_or(_is("checkout")).alias("reached_checkout"),
        F.bool_or(_is("purchase")).alias("converted"),
        F.min_by("order_id", F.when(_is("purchase"), first)).alias("order_id"),
    ]


def _session_id() -> Column:
    """Return the session id: 32 hex digits of a hash of the visitor and the start time."""
    return F.substring(
        F.sha2(
            F.concat_ws("|", "anonymous_id", F.date_format("session_start", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS")),
            256,
        ),
        1,
        32,
    )


def sessionize(gap_minutes: int = 30) -> Transform:
    """Return a transform turning events into one row per session.

    A session is a visitor's (`anonymous_id`) run of events with no gap longer than `gap_minutes`; it belongs to the
    day it started. The session id is derived from the visitor and the start time, so it is stable across re-runs.
    """
    gap_seconds = gap_minutes * 60

    def build(events: DataFrame) -> DataFrame:
        numbered = _number_sessions(events, gap_seconds)
        sessions = numbered.groupBy("anonymous_id", "_session_no").agg(*_session_aggregates())
        return sessions.select(
            _session_id().alias("session_id"),
            "anonymous_id",
            "customer_id",
            F.to_date("session_start").alias("session_date"),
            "session_start",
            "session_end",
            (F.unix_timestamp("session_end") - F.unix_timestamp("session_start")).cast("int").alias("duration_seconds"),
            F.col("events").cast("int").alias("events"),
            F.col("page_views").cast("int").alias("page_views"),
            F.col("product_views").cast("int").alias("product_views"),
            F.col("products_viewed").cast("int").alias("products_viewed"),
            F.col("add_to_carts").cast("int").alias("add_to_carts"),
            "reached_cart",
            "reached_checkout",
            "converted",
            "order_id",
            "device",
            "country",
            "referrer",
            "landing_page",
        )

    return build


TRAFFIC_COLUMNS = ("product_views", "unique_viewers", "add_to_carts", "remove_from_carts")


def daily_product_metrics(
    order_items: DataFrame, orders: DataFrame, known_traffic: DataFrame | None = None
) -> Transform:
    """Return a transform from events to one row per product and day: views, carts, orders, units, revenue.

    Sales count on the day the order was placed; cancelled orders add no revenue and are counted apart, returned
    units are counted on the order's day too, so a day's figures settle as its orders progress. `known_traffic`
    (metric_date, product_id and the traffic counts) stands in for the events of days whose events have not
    changed, when only their orders have.
    """

    def build(events: DataFrame) -> DataFrame:
        traffic = (
            events.where(F.col("product_id").isNotNull())
            .groupBy(F.col("event_date").alias("metric_date"), "product_id")
            .agg(
                _count_if(_is("product_view")).alias("product_views"),
                F.count_distinct(F.when(_is("product_view"), F.col("anonymous_id"))).alias("unique_viewers"),
                _count_if(_is("add_to_cart")).alias("add_to_carts"),
                _count_if(_is("remove_from_cart")).alias("remove_from_carts"),
            )
        )
        if known_traffic is not None:
            traffic = traffic.unionByName(known_traffic.select("metric_date", "product_id", *TRAFFIC_COLUMNS))
        cancelled = F.col("status") == "cancelled"
        returned = F.col("status") == "returned"
        lines = order_items.join(orders.select("order_id", "status"), on="order_id", how="inner")
        sales = lines.groupBy(F.col("order_date").alias("metric_date"), "product_id").agg(
            F.count_distinct(F.when(~cancelled, F.col("order_id"))).alias("orders"),
            F.sum(F.when(~cancelled, F.col("quantity")).otherwise(0)).alias("units_sold"),
            F.sum(F.when(~cancelled, F.col("net_amount")).otherwise(0)).alias("revenue"),
            F.sum(F.when(cancelled, F.col("quantity")).otherwise(0)).alias("units_cancelled"),
            F.sum(F.when(returned, F.col("quantity")).otherwise(0)).alias("units_returned"),
            F.sum(F.when(returned, F.col("net_amount")).otherwise(0)).alias("returned_revenue"),
        )
        joined = traffic.join(sales, on=["metric_date", "product_id"], how="full_outer")
        zero = F.lit(0)
        return joined.select(
            "metric_date",
            "product_id",
            *(F.coalesce(F.col(c), zero).cast("int").alias(c) for c in (*TRAFFIC_COLUMNS, "orders")),
            *(
                F.coalesce(F.col(c), zero).cast("int").alias(c)
                for c in ("units_sold", "units_cancelled", "units_returned")
            ),
            F.coalesce(F.col("revenue"), zero).cast("decimal(14,2)").alias("revenue"),
            F.coalesce(F.col("returned_revenue"), zero).cast("decimal(14,2)").alias("returned_revenue"),
        )

    return build

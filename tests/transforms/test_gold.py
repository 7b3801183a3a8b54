from datetime import date, datetime
from decimal import Decimal

from lakehouse.transforms import gold as tf

EVENT_SCHEMA = (
    "event_id string, event_type string, event_ts timestamp, event_date date, anonymous_id string, "
    "customer_id string, product_id string, order_id string, page_url string, referrer string, device string, "
    "country string"
)


def _event(spark_rows, n, kind, ts, visitor="a1", customer=None, product=None, order=None):
    spark_rows.append(
        (f"e{n}", kind, ts, ts.date(), visitor, customer, product, order, f"/p{n}", "google", "mobile", "NL")
    )


def test_sessions_split_after_thirty_quiet_minutes_and_belong_to_their_start_day(spark):
    rows: list = []
    _event(rows, 1, "page_view", datetime(2026, 1, 1, 23, 50))
    _event(rows, 2, "product_view", datetime(2026, 1, 2, 0, 10), product="P1")  # 20 min later: same session
    _event(rows, 3, "add_to_cart", datetime(2026, 1, 2, 0, 15), product="P1", customer="C1")
    _event(rows, 4, "page_view", datetime(2026, 1, 2, 0, 46))  # 31 min later: a new session
    _event(rows, 5, "purchase", datetime(2026, 1, 2, 0, 50), customer="C1", order="O1")
    _event(rows, 6, "page_view", datetime(2026, 1, 2, 0, 20), visitor="a2")
    sessions = spark.createDataFrame(rows, EVENT_SCHEMA).transform(tf.sessionize(30))
    got = sorted(
        (
            r.anonymous_id,
            r.session_date,
            r.events,
            r.duration_seconds,
            r.products_viewed,
            r.reached_cart,
            r.converted,
            r.customer_id,
            r.order_id,
            r.landing_page,
        )
        for r in sessions.collect()
    )
    assert got == [
        ("a1", date(2026, 1, 1), 3, 25 * 60, 1, True, False, "C1", None, "/p1"),
        ("a1", date(2026, 1, 2), 2, 4 * 60, 0, False, True, "C1", "O1", "/p4"),
        ("a2", date(2026, 1, 2), 1, 0, 0, False, False, None, None, "/p6"),
    ]
    assert sessions.select("session_id").distinct().count() == 3


def test_session_ids_are_stable_across_recomputation(spark):
    rows: list = []
    _event(rows, 1, "page_view", datetime(2026, 1, 1, 10, 0))
    df = spark.createDataFrame(rows, EVENT_SCHEMA)
    first = df.transform(tf.sessionize(30)).first().session_id
    again = df.transform(tf.sessionize(30)).first().session_id
    assert first == again and len(first) == 32


def test_daily_product_metrics_join_traffic_and_sales(spark):
    rows: list = []
    _event(rows, 1, "product_view", datetime(2026, 1, 2, 10), product="P1")
    _event(rows, 2, "product_view", datetime(2026, 1, 2, 11), product="P1")
    _event(rows, 3, "product_view", datetime(2026, 1, 2, 11), visitor="a2", product="P1")
    _event(rows, 4, "add_to_cart", datetime(2026, 1, 2, 11), product="P1")
    events = spark.createDataFrame(rows, EVENT_SCHEMA)
    items = spark.createDataFrame(
        [
            ("O1", "P1", 2, Decimal("20.00"), date(2026, 1, 2)),
            ("O2", "P1", 1, Decimal("10.00"), date(2026, 1, 2)),
            ("O3", "P1", 5, Decimal("50.00"), date(2026, 1, 2)),
            ("O4", "P2", 1, Decimal("7.00"), date(2026, 1, 2)),
        ],
        "order_id string, product_id string, quantity int, net_amount decimal(12,2), order_date date",
    )
    orders = items.selectExpr(
        "order_id",
        "case order_id when 'O2' then 'returned' when 'O3' then 'cancelled' else 'delivered' end as status",
    )
    metrics = {r.product_id: r for r in events.transform(tf.daily_product_metrics(items, orders)).collect()}
    p1, p2 = metrics["P1"], metrics["P2"]
    assert (p1.product_views, p1.unique_viewers, p1.add_to_carts, p1.orders, p1.units_sold) == (3, 2, 1, 2, 3)
    assert (p1.revenue, p1.units_cancelled, p1.units_returned, p1.returned_revenue) == (
        Decimal("30.00"),
        5,
        1,
        Decimal("10.00"),
    )
    assert (p2.product_views, p2.orders, p2.revenue) == (0, 1, Decimal("7.00"))


def test_daily_product_metrics_take_known_traffic_for_days_without_new_events(spark):
    items = spark.createDataFrame(
        [("O1", "P1", 2, Decimal("20.00"), date(2026, 1, 1))],
        "order_id string, product_id string, quantity int, net_amount decimal(12,2), order_date date",
    )
    orders = spark.createDataFrame([("O1", "cancelled")], "order_id string, status string")
    known = spark.createDataFrame(
        [(date(2026, 1, 1), "P1", 7, 4, 2, 1)],
        "metric_date date, product_id string, product_views int, unique_viewers int, add_to_carts int,"
        " remove_from_carts int",
    )
    events = spark.createDataFrame([], EVENT_SCHEMA)  # that day's events are not read again
    [row] = events.transform(tf.daily_product_metrics(items, orders, known)).collect()
    assert (row.metric_date, row.product_views, row.unique_viewers, row.add_to_carts, row.remove_from_carts) == (
        date(2026, 1, 1),
        7,
        4,
        2,
        1,
    )
    assert (row.orders, row.units_sold, row.units_cancelled, row.revenue) == (0, 0, 2, Decimal("0.00"))

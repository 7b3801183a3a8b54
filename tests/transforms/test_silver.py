from datetime import date, datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from lakehouse.entities import COUNTRY, ENTITIES, Entity, Length
from lakehouse.transforms import silver as tf

LINEAGE = "_source_file string, _source_line int, _batch_id int"
F1 = "/wh/landing/x/dt=2026-01-02/x_20260102.jsonl"


def _rules_of(df, rules):
    return {r["id"]: r[tf.RULE] for r in df.transform(tf.apply_rules(rules)).collect()}


def test_first_broken_rule_is_reported_in_rule_order(spark):
    events = spark.createDataFrame(
        [
            ("e1", "page_view", "2026-01-02T10:00:00Z", "a1", True, True),
            ("e2", None, "yesterday", "a1", True, True),  # missing type is reported before the bad timestamp
            ("e3", "page_view", "yesterday", "a1", True, True),
            ("e4", "teleport", "2026-01-02T10:00:00Z", "a1", True, True),
            ("e5", "product_view", "2026-01-02T10:00:00Z", "a1", False, True),
            ("e6", "product_view", "2026-01-02T10:00:00Z", "a1", True, False),
        ],
        "id string, event_type string, event_ts string, anonymous_id string, "
        "_product_known boolean, _customer_known boolean",
    ).withColumns(
        {
            "event_id": F.col("id"),
            "customer_id": F.lit(None).cast("string"),
            "product_id": F.lit("P00001"),
            "order_id": F.lit(None).cast("string"),
            "referrer": F.lit(None).cast("string"),
            "page_url": F.lit("/p/P00001"),
            "device": F.lit("mobile"),
            "country": F.lit("NL"),
        }
    )
    assert _rules_of(events, tf.event_rules()) == {
        "e1": None,
        "e2": "required:event_type",
        "e3": "type:event_ts",
        "e4": "accepted:event_type",
        "e5": "reference:product_id",
        "e6": "reference:customer_id",
    }


def test_quarantine_rows_carry_rule_reason_record_and_lineage(spark):
    rows = spark.createDataFrame(
        [("c1", "not-an-email", None, F1, 7, 20260102, "format:email"), ("c2", "a@b.c", None, F1, 8, 20260102, None)],
        f"customer_id string, email string, _extra_fields map<string,string>, {LINEAGE}, {tf.RULE} string",
    )
    rules = [tf.check("format:email", F.lit(True), "email has no @")]
    out = rows.transform(tf.quarantine_rows("customers", ["customer_id", "email"], rules, datetime(2026, 1, 3)))
    broken, valid = out.orderBy(F.col("rule").asc_nulls_last()).collect()
    assert (broken["entity"], broken["rule"], broken["reason"], broken["_source_line"]) == (
        "customers",
        "format:email",
        "email has no @",
        7,
    )
    assert broken["record"] == '{"customer_id":"c1","email":"not-an-email"}'
    # A row that broke no rule comes back empty, so the caller counts it and keeps it out of the quarantine.
    assert valid.asDict() == dict.fromkeys(out.columns)


def test_first_per_key_keeps_the_earliest_arrival(spark):
    rows = spark.createDataFrame(
        [
            ("k1", "late copy", F1, 9, 20260103),
            ("k1", "first", F1, 2, 20260102),
            ("k2", "only", F1, 3, 20260102),
        ],
        f"key string, value string, {LINEAGE}",
    )
    out = rows.transform(tf.first_per_key(["key"])).select("key", "value")
    expected = spark.createDataFrame([("k1", "first"), ("k2", "only")], "key string, value string")
    assert_df_equality(out, expected, ignore_row_order=True)


def test_mark_latest_version_marks_one_row_per_key(spark):
    rows = spark.createDataFrame(
        [
            ("k1", "old", datetime(2026, 1, 1, 9), 20260101),
            ("k1", "new", datetime(2026, 1, 2, 9), 20260102),
            ("k1", "same time, later batch", datetime(2026, 1, 2, 9), 20260103),
            ("k2", "only", datetime(2026, 1, 1, 9), 20260101),
        ],
        "key string, value string, updated_at timestamp, _batch_id int",
    )
    out = rows.transform(tf.mark_latest_version("key")).select("key", "value", tf.LATEST)
    expected = spark.createDataFrame(
        [("k1", "old", None), ("k1", "new", None), ("k1", "same time, later batch", True), ("k2", "only", True)],
        "key string, value string, _latest boolean",
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_not_in_drops_keys_delivered_before(spark):
    rows = spark.createDataFrame([("k1",), ("k2",)], "key string")
    existing = spark.createDataFrame([("k1",), ("k1",)], "key string")
    assert [r.key for r in rows.transform(tf.not_in(existing, ["key"])).collect()] == ["k2"]


def test_flag_known_accepts_nulls_and_known_keys_only(spark):
    rows = spark.createDataFrame([("1", "C1"), ("2", "C9"), ("3", None)], "id string, customer_id string")
    known = spark.createDataFrame([("C1",)], "customer_id string")
    out = rows.transform(tf.flag_known(known, "customer_id", "customer_id", "_known")).select("id", "_known")
    expected = spark.createDataFrame([("1", True), ("2", False), ("3", True)], "id string, _known boolean")
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_customer_versions_are_typed_and_the_latest_one_wins(spark):
    bronze = spark.createDataFrame(
        [
            (
                "C1",
                "A",
                "B",
                " Ann@X.com ",
                "1",
                "s",
                "c",
                "p",
                "nl",
                "2025-05-01",
                "true",
                "2026-01-01T08:00:00Z",
            ),
            (
                "C1",
                "A",
                "B",
                "ann@y.com",
                "1",
                "s",
                "c",
                "p",
                "nl",
                "2025-05-01",
                "false",
                "2026-01-02T09:00:00Z",
            ),
        ],
        ", ".join(f"{c} string" for c in tf_customer_fields()),
    ).withColumns({"_source_file": F.lit(F1), "_source_line": F.lit(1), "_batch_id": F.lit(20260102)})
    versions = bronze.transform(tf.typed_customers)
    assert versions.count() == 2
    latest = versions.transform(tf.latest_version("customer_id")).first()
    assert (latest["email"], latest["country"], latest["marketing_opt_in"]) == ("ann@y.com", "NL", False)
    assert latest["signup_date"] == date(2025, 5, 1)
    assert {r.email for r in versions.collect()} == {"ann@x.com", "ann@y.com"}


def tf_customer_fields():
    from lakehouse.entities import CUSTOMERS

    return CUSTOMERS.fields


def _orders(spark, rows):
    return (
        spark.createDataFrame(
            rows,
            "order_id string, customer_id string, order_ts string, shipping_amount string, items string, "
            "_customer_known boolean",
        )
        .withColumns({"_source_file": F.lit(F1), "_batch_id": F.lit(20260102)})
        .withColumn("_source_line", F.abs(F.hash("order_id")))
        .withColumns({c: F.lit(x) for c, x in (("currency", "EUR"), ("payment_method", "card"), ("channel", "web"))})
        .withColumn("shipping_country", F.lit("NL"))
    )


def test_order_rules_check_every_line(spark):
    ok = '[{"line_no": 1, "product_id": "P1", "sku": "S1", "quantity": 2, "unit_price": 10.00, "discount_amount": 1.5}]'
    orders = _orders(
        spark,
        [
            ("o1", "C1", "2026-01-02T10:00:00Z", "4.95", ok, True),
            ("o2", "C1", "2026-01-02T10:00:00Z", "4.95", ok.replace(": 2,", ': "three",'), True),
            ("o3", "C1", "2026-01-02T10:00:00Z", "4.95", ok.replace("10.00", "-10.00"), True),
            ("o4", "C1", "2026-01-02T10:00:00Z", "4.95", ok.replace("P1", "P404"), True),
            ("o5", "C404", "2026-01-02T10:00:00Z", "4.95", ok, False),
            ("o6", "C1", "2026-01-02T10:00:00Z", "4.95", "[{broken", True),
        ],
    )
    known_products = spark.createDataFrame([("P1",)], "product_id string")
    prepared = orders.transform(tf.with_parsed_items).transform(tf.flag_known_items(known_products))
    rules = {r["order_id"]: r[tf.RULE] for r in prepared.transform(tf.apply_rules(tf.order_rules())).collect()}
    assert rules == {
        "o1": None,
        "o2": "type:items.quantity",
        "o3": "negative:items.unit_price",
        "o4": "reference:items.product_id",
        "o5": "reference:customer_id",
        "o6": "type:items",
    }


def test_order_lines_and_headers_add_up(spark):
    items = (
        '[{"line_no": 1, "product_id": "P1", "quantity": 2, "unit_price": 10.00, "discount_amount": 1.50},'
        ' {"line_no": 2, "product_id": "P2", "quantity": 1, "unit_price": 5.25}]'
    )
    orders = _orders(spark, [("o1", "C1", "2026-01-02T23:30:00Z", "4.95", items, True)]).transform(tf.with_parsed_items)
    lines = tf.order_lines(orders)
    got = [
        (r.line_no, r.quantity, r.gross_amount, r.discount_amount, r.net_amount)
        for r in lines.orderBy("line_no").collect()
    ]
    assert got == [
        (1, 2, Decimal("20.00"), Decimal("1.50"), Decimal("18.50")),
        (2, 1, Decimal("5.25"), Decimal("0.00"), Decimal("5.25")),
    ]
    header = tf.order_headers(orders, lines).first()
    assert (
        header.item_count,
        header.units,
        header.gross_amount,
        header.discount_amount,
        header.net_amount,
    ) == (
        2,
        3,
        Decimal("25.25"),
        Decimal("1.50"),
        Decimal("23.75"),
    )
    assert (header.status, header.shipping_amount, header.order_date) == (
        "placed",
        Decimal("4.95"),
        date(2026, 1, 2),
    )


def test_stack_gives_both_frames_in_one_with_the_second_flagged(spark):
    lines = spark.createDataFrame(
        [("o1", 1, Decimal("2.00"))], "order_id string, line_no int, net_amount decimal(12,2)"
    )
    orders = spark.createDataFrame(
        [("o1", "c1", Decimal("2.00"))], "order_id string, customer_id string, net_amount decimal(12,2)"
    )
    out = tf.stack(lines, orders, "_order")
    expected = spark.createDataFrame(
        [("o1", 1, Decimal("2.00"), None, None), ("o1", None, Decimal("2.00"), "c1", True)],
        "order_id string, line_no int, net_amount decimal(12,2), customer_id string, _order boolean",
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_status_history_sets_current_status_and_milestones(spark):
    t = lambda h: datetime(2026, 1, 2, h)  # noqa: E731
    orders = spark.createDataFrame(
        [("o1", "placed", t(1), None, None, None, None, None, 20260102)],
        "order_id string, status string, status_ts timestamp, paid_at timestamp, shipped_at timestamp, "
        "delivered_at timestamp, cancelled_at timestamp, returned_at timestamp, _batch_id int",
    )
    # Delivered and returned arrive first (late delivery of the others); returned shares delivered's timestamp.
    history = spark.createDataFrame(
        [("o1", "returned", t(9)), ("o1", "delivered", t(9)), ("o1", "paid", t(2)), ("o1", "shipped", t(5))],
        "order_id string, status string, status_ts timestamp",
    )
    out = orders.transform(tf.apply_status_history(history, 20260105)).first()
    assert (out.status, out.status_ts, out.paid_at, out.shipped_at, out.delivered_at, out.cancelled_at) == (
        "returned",
        t(9),
        t(2),
        t(5),
        t(9),
        None,
    )
    assert out._batch_id == 20260105


def test_late_events_are_dated_when_they_happened(spark):
    bronze = spark.createDataFrame(
        [
            (
                "e1",
                "page_view",
                "2026-01-01T23:59:00Z",
                "a1",
                "",
                None,
                None,
                "/",
                None,
                "mobile",
                "NL",
                F1,
                1,
                3,
            )
        ],
        "event_id string, event_type string, event_ts string, anonymous_id string, customer_id string, "
        "product_id string, order_id string, page_url string, referrer string, device string, country string, "
        + LINEAGE,
    ).withColumn("_batch_date", F.to_date(F.lit("2026-01-03")))
    row = bronze.transform(tf.typed_events).first()
    assert (row.event_date, row.arrived_date, row.customer_id) == (date(2026, 1, 1), date(2026, 1, 3), None)


def test_inventory_sign_must_match_the_movement(spark):
    rows = spark.createDataFrame(
        [
            ("m1", "sale", "-2"),
            ("m2", "sale", "2"),
            ("m3", "receipt", "-5"),
            ("m4", "adjustment", "-1"),
            ("m5", "gift", "1"),
        ],
        "movement_id string, movement_type string, quantity string",
    ).withColumns(
        {
            "id": F.col("movement_id"),
            "product_id": F.lit("P1"),
            "movement_ts": F.lit("2026-01-02T10:00:00Z"),
            "warehouse": F.lit("AMS"),
            "_product_known": F.lit(True),
        }
    )
    assert _rules_of(rows, tf.inventory_rules()) == {
        "m1": None,
        "m2": "sign:quantity",
        "m3": "sign:quantity",
        "m4": None,
        "m5": "accepted:movement_type",
    }


def test_products_are_typed_with_money_and_flags(spark):
    from lakehouse.entities import PRODUCTS

    row = ("P00001", "SKU-1", "Kettle", "Home", "Kitchen", "Acme", "49.90", "21.5", "false", "2026-01-02T08:00:00Z")
    bronze = spark.createDataFrame([row], ", ".join(f"{c} string" for c in PRODUCTS.fields)).withColumns(
        {"_source_file": F.lit(F1), "_source_line": F.lit(2), "_batch_id": F.lit(20260102)}
    )
    out = bronze.transform(tf.typed_products).first()
    assert (out.price, out.cost, out.active) == (Decimal("49.90"), Decimal("21.50"), False)
    assert out.updated_at == datetime(2026, 1, 2, 8, 0)


def test_status_changes_and_movements_are_typed(spark):
    status = spark.createDataFrame(
        [(" S1 ", "O1", "shipped", "2026-01-03T10:00:00Z", F1, 1, 20260103)],
        f"status_id string, order_id string, status string, status_ts string, {LINEAGE}",
    )
    s = status.transform(tf.typed_status_changes).first()
    assert (s.status_id, s.status, s.status_ts) == ("S1", "shipped", datetime(2026, 1, 3, 10, 0))
    movements = spark.createDataFrame(
        [("M1", "P1", "2026-01-03T23:59:59Z", "sale", "-2", "AMS", F1, 1, 20260103)],
        f"movement_id string, product_id string, movement_ts string, movement_type string, quantity string, "
        f"warehouse string, {LINEAGE}",
    )
    m = movements.transform(tf.typed_movements).first()
    assert (m.quantity, m.movement_date, m.warehouse) == (-2, date(2026, 1, 3), "AMS")


def test_order_rules_bound_lengths_and_accept_only_known_codes(spark):
    ok = '[{"line_no": 1, "product_id": "P1", "sku": "S1", "quantity": 2, "unit_price": 10.00, "discount_amount": 1.5}]'
    orders = _orders(
        spark,
        [
            ("o1", "C1", "2026-01-02T10:00:00Z", "4.95", ok, True),
            ("o2", "C1", "2026-01-02T10:00:00Z", "4.95", ok, True),
            ("o3", "C1", "2026-01-02T10:00:00Z", "4.95", ok, True),
            ("o4", "C1", "2026-01-02T10:00:00Z", "4.95", ok, True),
            ("o5", "C1", "2026-01-02T10:00:00Z", "4.95", ok.replace('"S1"', f'"{"S" * 65}"'), True),
        ],
    )
    changed = {
        "o2": ("payment_method", "x" * 5000),
        "o3": ("payment_method", "bitcoin"),
        "o4": ("shipping_country", "NLD"),
    }
    for order_id, (column, value) in changed.items():
        orders = orders.withColumn(column, F.when(F.col("order_id") == order_id, value).otherwise(F.col(column)))
    known_products = spark.createDataFrame([("P1",)], "product_id string")
    prepared = orders.transform(tf.with_parsed_items).transform(tf.flag_known_items(known_products))
    rules = {r["order_id"]: r[tf.RULE] for r in prepared.transform(tf.apply_rules(tf.order_rules())).collect()}
    assert rules == {
        "o1": None,
        "o2": "length:payment_method",
        "o3": "accepted:payment_method",
        "o4": "length:shipping_country",
        "o5": "length:items.sku",
    }
    reasons = tf.reasons(tf.order_rules())
    assert reasons["length:payment_method"] == "payment_method is longer than 32 characters"
    assert (
        reasons["accepted:payment_method"]
        == "payment_method is not one of card, paypal, klarna, apple_pay, bank_transfer"
    )
    assert reasons["length:shipping_country"] == "shipping_country is not 2 characters long"
    assert reasons["length:items.sku"] == "an item's sku is longer than 64 characters"


def test_every_text_field_of_the_contract_has_a_length_rule_and_every_coded_one_its_accepted_values():
    for entity in ENTITIES:
        names = {r.name for r in tf.contract_rules(entity)}
        texts = {f for f, kind in entity.types.items() if kind == "string"}
        assert {f"length:{f}" for f in texts} <= names, entity.name
        assert {f"accepted:{f}" for f in entity.accepted} <= names, entity.name
    assert "accepted:status" in {r.name for r in tf.order_status_rules()}
    assert "accepted:device" in {r.name for r in tf.event_rules()}


def test_a_contract_without_a_length_bound_for_a_text_field_is_refused():
    with pytest.raises(ValueError, match=r"every text field needs a length bound; missing for \['note'\]"):
        Entity("notes", "jsonl", {"id": "string", "note": "string"}, "notes", lengths={"id": Length(1, 8)})
    with pytest.raises(ValueError, match=r"fields it does not have: \['colour'\]"):
        Entity("notes", "jsonl", {"id": "string"}, "notes", lengths={"id": Length(1, 8)}, accepted={"colour": ("red",)})


def test_a_length_rule_skips_blank_values_and_counts_characters_not_bytes(spark):
    rows = spark.createDataFrame(
        [("a", "NL"), ("b", "ÉÉ"), ("c", None), ("d", ""), ("e", "N")], "id string, country string"
    )
    rule = tf.bounded("country", COUNTRY)
    assert _rules_of(rows, [rule]) == {"a": None, "b": None, "c": None, "d": None, "e": "length:country"}

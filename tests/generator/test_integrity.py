"""What a clean shop (dirty rate 0) holds: every reference resolves and every story is consistent."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from generator import schema
from generator.schema import FIELDS, ITEM_FIELDS
from lakehouse import entities as contract
from tests.generator import landing

SESSION_GAP_S = 30 * 60


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _visits(events: list[dict]) -> list[list[dict]]:
    """Return events grouped into visits: runs of one anonymous_id with gaps under 30 minutes."""
    by_browser = defaultdict(list)
    for event in events:
        by_browser[event["anonymous_id"]].append(event)
    visits = []
    for browser_events in by_browser.values():
        browser_events.sort(key=lambda e: e["event_ts"])
        current = [browser_events[0]]
        for event in browser_events[1:]:
            if (_ts(event["event_ts"]) - _ts(current[-1]["event_ts"])).total_seconds() >= SESSION_GAP_S:
                visits.append(current)
                current = []
            current.append(event)
        visits.append(current)
    return visits


def test_files_have_the_contract_fields(clean_shop):
    for day in landing.days(clean_shop):
        for entity in ("customers", "products"):
            assert landing.header(clean_shop, entity, day) == list(FIELDS[entity])
        for entity in ("orders", "order_status", "events", "inventory"):
            for record in landing.records(clean_shop, entity, day):
                assert list(record) == list(FIELDS[entity])
                for item in record.get("items", []):
                    assert list(item) == list(ITEM_FIELDS)


def test_every_purchase_created_exactly_one_order_of_its_visit(clean_shop):
    events = landing.all_records(clean_shop, "events")
    orders = {o["order_id"]: o for o in landing.all_records(clean_shop, "orders")}
    purchases = [e for e in events if e["event_type"] == "purchase"]
    assert len(purchases) > 10
    assert sorted(e["order_id"] for e in purchases) == sorted(orders)

    checked = 0
    for visit in _visits(events):
        added = {e["product_id"] for e in visit if e["event_type"] == "add_to_cart"}
        for purchase in (e for e in visit if e["event_type"] == "purchase"):
            order = orders[purchase["order_id"]]
            assert order["customer_id"] == purchase["customer_id"] is not None
            assert {item["product_id"] for item in order["items"]} <= added
            assert 1 <= len(order["items"]) <= 5  # 1–4 lines, and maybe a planted companion
            assert any(e["event_type"] == "checkout" for e in visit)
            checked += 1
    assert checked == len(purchases)


def test_visits_follow_the_funnel(clean_shop):
    events = landing.all_records(clean_shop, "events")
    for visit in _visits(events):
        assert visit[0]["event_type"] == "page_view"
        assert not (visit[0]["referrer"] or "").startswith("https://shop.example.com/")
        viewed, logged_in = set(), False
        for event in visit:
            if event["event_type"] == "product_view":
                viewed.add(event["product_id"])
            if event["event_type"] == "add_to_cart":
                assert event["product_id"] in viewed
            # Once logged in, a visitor stays logged in for the rest of the visit.
            assert not (logged_in and event["customer_id"] is None)
            logged_in = event["customer_id"] is not None
            has_product = event["event_type"] in ("product_view", "add_to_cart", "remove_from_cart")
            assert (event["product_id"] is not None) == has_product
            assert (event["order_id"] is not None) == (event["event_type"] == "purchase")


def test_references_resolve_to_records_delivered_by_then(clean_shop):
    customers, products, orders = set(), set(), set()
    for day in landing.days(clean_shop):
        customers |= {c["customer_id"] for c in landing.records(clean_shop, "customers", day)}
        products |= {p["product_id"] for p in landing.records(clean_shop, "products", day)}
        day_orders = landing.records(clean_shop, "orders", day)
        orders |= {o["order_id"] for o in day_orders}
        for order in day_orders:
            assert order["customer_id"] in customers
            assert {item["product_id"] for item in order["items"]} <= products
        for event in landing.records(clean_shop, "events", day):
            assert event["customer_id"] is None or event["customer_id"] in customers
            assert event["product_id"] is None or event["product_id"] in products
        assert {s["order_id"] for s in landing.records(clean_shop, "order_status", day)} <= orders
        assert {m["product_id"] for m in landing.records(clean_shop, "inventory", day)} <= products


def test_unit_price_is_the_price_at_order_time(clean_shop):
    history = defaultdict(list)  # product_id -> [(updated_at, price)]
    for day in landing.days(clean_shop):
        for version in landing.truth(clean_shop, "product_versions", day):
            history[version["product_id"]].append((version["updated_at"], version["price"]))
    for order in landing.all_records(clean_shop, "orders"):
        at = _ts(order["order_ts"])
        for item in order["items"]:
            price = max(v for v in history[item["product_id"]] if v[0] <= at)[1]
            assert round(item["unit_price"], 2) == float(price)
            assert 0 <= item["discount_amount"] <= item["unit_price"] * item["quantity"]


def test_status_changes_follow_the_allowed_order(clean_shop):
    placed = {o["order_id"]: o["order_ts"] for o in landing.all_records(clean_shop, "orders")}
    changes = defaultdict(list)
    for status in landing.all_records(clean_shop, "order_status"):
        changes[status["order_id"]].append(status)
    allowed = (["paid", "shipped", "delivered", "returned"], ["cancelled"], ["paid", "cancelled"])
    assert len(changes) > 10
    for order_id, statuses in changes.items():
        statuses.sort(key=lambda s: s["status_ts"])
        path = [s["status"] for s in statuses]
        assert any(path == route[: len(path)] for route in allowed), (order_id, path)
        assert statuses[0]["status_ts"] > placed[order_id]


def test_every_order_line_leaves_stock_as_a_sale(clean_shop):
    sold = defaultdict(int)
    for movement in landing.all_records(clean_shop, "inventory"):
        if movement["movement_type"] == "sale":
            sold[(movement["product_id"], movement["movement_ts"])] += movement["quantity"]
    ordered = defaultdict(int)
    for order in landing.all_records(clean_shop, "orders"):
        for item in order["items"]:
            ordered[(item["product_id"], order["order_ts"])] -= item["quantity"]
    assert sold == ordered


def test_day_one_holds_an_initial_movement_per_product_and_warehouse(clean_shop):
    first = landing.days(clean_shop)[0]
    initial = [m for m in landing.records(clean_shop, "inventory", first) if m["movement_type"] == "initial"]
    products = landing.records(clean_shop, "products", first)
    assert {(m["product_id"], m["warehouse"]) for m in initial} == {
        (p["product_id"], w) for p in products for w in ("AMS", "BER", "MAD")
    }
    assert all(m["quantity"] > 0 for m in initial)


def test_ids_are_unique(clean_shop):
    for entity, key in (("events", "event_id"), ("order_status", "status_id"), ("inventory", "movement_id")):
        ids = [r[key] for r in landing.all_records(clean_shop, entity)]
        assert len(ids) == len(set(ids)), entity
    skus = {p["product_id"]: p["sku"] for p in landing.all_records(clean_shop, "products")}
    assert len(set(skus.values())) == len(skus)


def test_exports_carry_each_customer_at_most_once_a_day_and_match_the_truth(clean_shop):
    for i, day in enumerate(landing.days(clean_shop)):
        for entity, key, name in (
            ("customers", "customer_id", "customer_versions"),
            ("products", "product_id", "product_versions"),
        ):
            rows = landing.records(clean_shop, entity, day)
            assert len({r[key] for r in rows}) == len(rows)
            truth = landing.truth(clean_shop, name, day)
            exported = {(r[key], r["updated_at"]) for r in rows}
            assert exported == {
                (t[key], t["updated_at"].strftime("%Y-%m-%dT%H:%M:%S.") + f"{t['updated_at'].microsecond // 1000:03d}Z")
                for t in truth
            }
            if i > 0:  # later exports hold that day's changes and sign-ups only
                assert all(r["updated_at"].startswith(day.isoformat()) for r in rows)


def test_later_exports_hold_real_changes(clean_shop):
    first, *later = landing.days(clean_shop)
    latest = {c["customer_id"]: c for c in landing.records(clean_shop, "customers", first)}
    changed = 0
    for day in later:
        for row in landing.records(clean_shop, "customers", day):
            before = latest.get(row["customer_id"])
            if before is not None:
                watched = ("email", "phone", "street_address", "city", "postal_code", "country", "marketing_opt_in")
                assert any(row[f] != before[f] for f in watched)
                assert (row["first_name"], row["signup_date"]) == (before["first_name"], before["signup_date"])
                changed += 1
            latest[row["customer_id"]] = row
    assert changed > 0


def test_products_keep_a_margin_of_20_to_60_percent(clean_shop):
    for product in landing.all_records(clean_shop, "products"):
        price, cost = float(product["price"]), float(product["cost"])
        assert 0.2 <= 1 - cost / price <= 0.6 + 1e-9


def test_the_generator_s_codes_are_the_contract_s_accepted_values():
    assert schema.PAYMENT_METHODS == contract.PAYMENT_METHODS
    assert schema.CHANNELS == contract.CHANNELS
    assert schema.DEVICES == contract.DEVICES
    assert schema.WAREHOUSES == contract.WAREHOUSES


def test_every_text_value_is_within_the_contract_s_length_bounds_and_accepted_values(clean_shop):
    for entity in contract.ENTITIES:
        for record in landing.all_records(clean_shop, entity.name):
            for field, bounds in entity.lengths.items():
                value = record.get(field)
                if value not in (None, ""):
                    assert bounds.min <= len(value) <= bounds.max, (entity.name, field, value)
            for field, values in entity.accepted.items():
                assert record[field] in values, (entity.name, field, record[field])
            for item in record.get("items", []):
                for field, bounds in contract.ITEM_LENGTHS.items():
                    assert bounds.min <= len(item[field]) <= bounds.max, (entity.name, field, item[field])

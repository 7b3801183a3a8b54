"""A shop with a past: months of customers and orders delivered as one batch the day before the first day."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from generator import generate, generated_days
from generator.schema import ENTITIES, MOVEMENT_TYPES, ORDER_STATUSES, WAREHOUSES
from lakehouse.errors import UserError
from lakehouse.warehouse import Warehouse
from tests.generator import landing
from tests.generator.conftest import SMALL, make_warehouse

START, HISTORY_START, BATCH_DAY = date(2026, 1, 1), date(2025, 10, 1), date(2025, 12, 31)


@pytest.fixture(scope="module")
def past_shop(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Three months of past and two days of a small shop without dirty data."""
    warehouse = make_warehouse(tmp_path_factory.mktemp("past"))
    generate(warehouse, 2, history_months=3, dirty_rate=0.0, progress=False, **SMALL)
    return warehouse


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_the_past_arrives_as_one_batch_the_day_before_the_first_day(past_shop):
    assert generated_days(past_shop) == [BATCH_DAY, START, date(2026, 1, 2)]
    for entity in ENTITIES:
        assert past_shop.landing_days(entity) == [BATCH_DAY, START, date(2026, 1, 2)], entity
    assert landing.records(past_shop, "events", BATCH_DAY) == []  # no web tracker in the past
    manifest = landing.manifest(past_shop, BATCH_DAY)
    assert manifest["options"]["history_months"] == 3
    assert all(manifest["entities"][e]["clean_records"] > 0 for e in ENTITIES if e != "events")


def test_customers_signed_up_over_the_past_months_with_their_real_updated_at(past_shop):
    customers = landing.records(past_shop, "customers", BATCH_DAY)
    assert len(customers) == SMALL["customers"]
    signups = [date.fromisoformat(c["signup_date"]) for c in customers]
    assert min(signups) >= HISTORY_START and max(signups) < START
    assert {(d.year, d.month) for d in signups} == {(2025, 10), (2025, 11), (2025, 12)}
    for customer in customers:
        updated = _ts(customer["updated_at"])
        assert updated.date() == date.fromisoformat(customer["signup_date"]) and updated < _midnight(START)
    truth = {r["customer_id"]: r["updated_at"] for r in landing.truth(past_shop, "customer_versions", BATCH_DAY)}
    assert truth == {c["customer_id"]: _ts(c["updated_at"]) for c in customers}


def test_past_orders_fall_in_the_window_after_their_customers_signed_up_and_make_monthly_cohorts(past_shop):
    signed_up = {c["customer_id"]: _ts(c["updated_at"]) for c in landing.records(past_shop, "customers", BATCH_DAY)}
    past = landing.records(past_shop, "orders", BATCH_DAY)
    assert len(past) > 100
    times = [_ts(o["order_ts"]) for o in past]
    assert _midnight(HISTORY_START) <= min(times) and max(times) < _midnight(START)
    assert times == sorted(times) and [o["order_id"] for o in past] == [f"O{n:09d}" for n in range(1, len(past) + 1)]
    assert all(signed_up[o["customer_id"]] < t for o, t in zip(past, times, strict=True))
    first_order: dict[str, date] = {}
    for order, ts in zip(past, times, strict=True):
        first_order.setdefault(order["customer_id"], ts.date().replace(day=1))
    cohorts = Counter(first_order.values())
    assert sorted(cohorts) == [date(2025, 10, 1), date(2025, 11, 1), date(2025, 12, 1)]
    # The business grows: each month brings more orders than the one before.
    by_month = Counter(t.date().replace(day=1) for t in times)
    assert by_month[date(2025, 10, 1)] < by_month[date(2025, 11, 1)] < by_month[date(2025, 12, 1)]
    # Numbering goes on after the past.
    today = landing.records(past_shop, "orders", START)
    assert today and today[0]["order_id"] == f"O{len(past) + 1:09d}"


def test_past_statuses_and_returns_follow_each_order_as_the_daily_ones_do(past_shop):
    placed = {o["order_id"]: _ts(o["order_ts"]) for o in landing.records(past_shop, "orders", BATCH_DAY)}
    history: dict[str, list[tuple[datetime, str]]] = {}
    for day in generated_days(past_shop):
        for change in landing.records(past_shop, "order_status", day):
            if change["order_id"] in placed:
                ts = _ts(change["status_ts"])
                assert ts < _midnight(day) + timedelta(days=1), change  # in the file of the day it happens
                history.setdefault(change["order_id"], []).append((ts, change["status"]))
    assert set(ORDER_STATUSES) <= {s for changes in history.values() for _, s in changes}
    allowed = {
        ("placed", "paid"),
        ("placed", "cancelled"),
        ("paid", "cancelled"),
        ("paid", "shipped"),
        ("shipped", "delivered"),
        ("delivered", "returned"),
    }
    for order_id, changes in history.items():
        changes.sort()
        assert changes[0][0] > placed[order_id]
        steps = ["placed", *(s for _, s in changes)]
        assert all(pair in allowed for pair in itertools.pairwise(steps)), (order_id, steps)


def test_past_stock_opens_on_the_first_day_and_moves_with_every_past_sale(past_shop):
    movements = landing.records(past_shop, "inventory", BATCH_DAY)
    assert {m["movement_type"] for m in movements} == set(MOVEMENT_TYPES)
    opening = [m for m in movements if m["movement_type"] == "initial"]
    products = landing.records(past_shop, "products", BATCH_DAY)
    assert len(opening) == len(products) * len(WAREHOUSES)
    assert {m["movement_ts"] for m in opening} == {"2025-10-01T00:00:00.000Z"}
    sold = Counter()
    for order in landing.records(past_shop, "orders", BATCH_DAY):
        for item in order["items"]:
            sold[item["product_id"]] += item["quantity"]
    sales = Counter()
    for movement in movements:
        if movement["movement_type"] == "sale":
            sales[movement["product_id"]] -= movement["quantity"]
    assert sales == sold
    times = [m["movement_ts"] for m in movements]
    assert times == sorted(times) and times[-1] < "2026-01-01"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_same_seed_gives_the_same_bytes_and_a_later_run_continues_without_a_new_past(tmp_path):
    options = {**SMALL, "dirty_rate": 0.05, "history_months": 2}
    at_once, in_parts = make_warehouse(tmp_path / "a"), make_warehouse(tmp_path / "b")
    generate(at_once, 2, progress=False, **options)
    first = generate(in_parts, 1, progress=False, **options)
    second = generate(in_parts, 1, progress=False)
    assert first.days == (BATCH_DAY, START) and second.days == (date(2026, 1, 2),)
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert [name for name in a if a[name] != b[name]] == []
    with pytest.raises(UserError, match="--history-months 2"):
        generate(in_parts, 1, history_months=3, progress=False)


@pytest.mark.parametrize("months", [-1, 61])
def test_a_history_out_of_bounds_is_refused(tmp_path, months):
    with pytest.raises(UserError, match="--history-months must be between 0 and 60"):
        generate(make_warehouse(tmp_path), 1, history_months=months, progress=False, **SMALL)


def test_a_past_ends_on_the_day_before_a_mid_month_start(tmp_path):
    warehouse = make_warehouse(tmp_path)
    result = generate(warehouse, 1, start_date=date(2026, 3, 31), history_months=1, progress=False, **SMALL)
    assert result.days == (date(2026, 3, 30), date(2026, 3, 31))
    signups = [date.fromisoformat(c["signup_date"]) for c in landing.records(warehouse, "customers", date(2026, 3, 30))]
    assert min(signups) >= date(2026, 2, 28) and max(signups) <= date(2026, 3, 30)

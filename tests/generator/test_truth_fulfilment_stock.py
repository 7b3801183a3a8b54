"""The fulfilment and stock truths say what the landing files hold: each order's status times and late shipments,
and each product's stock on hand at the end of a day."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from generator import generate, inventory, orders
from generator.pools import WAREHOUSE_OF_COUNTRY
from generator.schema import WAREHOUSES
from generator.world import load_options
from tests.generator import landing
from tests.generator.conftest import SMALL, make_warehouse

PROMISE = timedelta(milliseconds=orders.SHIP_PROMISE)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory):
    """Three months of a small shop's past, then four days (the year-end backlog among them), without dirt."""
    warehouse = make_warehouse(tmp_path_factory.mktemp("truth"))
    generate(warehouse, 4, history_months=3, dirty_rate=0.0, progress=False, **SMALL)
    return warehouse


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _end(shop) -> datetime:
    """Return the end of the last day written."""
    return datetime.combine(landing.days(shop)[-1] + timedelta(days=1), datetime.min.time(), UTC)


def _lifecycle(shop) -> dict[str, dict]:
    return {r["order_id"]: r for day in landing.days(shop) for r in landing.truth(shop, "order_lifecycle", day)}


def test_the_lifecycle_truth_has_a_row_per_order_of_its_day(shop):
    for day in landing.days(shop):
        made = {o["order_id"]: _ts(o["order_ts"]) for o in landing.records(shop, "orders", day)}
        truth = {r["order_id"]: r["order_ts"] for r in landing.truth(shop, "order_lifecycle", day)}
        assert truth == made
    assert len(_lifecycle(shop)) > 500


def test_the_lifecycle_truth_agrees_with_the_status_records(shop):
    truth, end = _lifecycle(shop), _end(shop)
    written = 0
    for record in landing.all_records(shop, "order_status"):
        assert truth[record["order_id"]][f"{record['status']}_ts"] == _ts(record["status_ts"])
        written += 1
    # Every change the truth plans before the end of the last day was written; the later ones are still to come.
    planned = [t for row in truth.values() for name, t in row.items() if name.endswith("_ts") and name != "order_ts"]
    assert written == sum(t is not None and t < end for t in planned)
    assert any(t is not None and t >= end for t in planned)


def test_late_shipments_in_the_landing_files_match_the_truth_per_warehouse(shop):
    truth = _lifecycle(shop)
    warehouse = {
        o["order_id"]: WAREHOUSE_OF_COUNTRY[o["shipping_country"]] for o in landing.all_records(shop, "orders")
    }
    times: dict[str, dict[str, datetime]] = defaultdict(dict)
    for record in landing.all_records(shop, "order_status"):
        times[record["order_id"]][record["status"]] = _ts(record["status_ts"])
    # From the files: per warehouse, the shipments so far and how many came more than 48 hours after payment.
    files = {w: [0, 0] for w in WAREHOUSES}
    for order_id, seen in times.items():
        if "shipped" in seen:
            files[warehouse[order_id]][0] += seen["shipped"] - seen["paid"] > PROMISE
            files[warehouse[order_id]][1] += 1
    told = {w: [0, 0] for w in WAREHOUSES}
    for row in truth.values():
        assert row["warehouse"] == warehouse[row["order_id"]]
        if row["shipped_ts"] is not None and row["shipped_ts"] < _end(shop):
            told[row["warehouse"]][0] += row["shipped_late"]
            told[row["warehouse"]][1] += 1
    assert files == told
    assert all(late > 0 for late, _ in files.values()) and sum(n for _, n in files.values()) > 300


def test_shipments_keep_the_promise_or_miss_it_by_one_to_four_days(shop):
    rows = [r for r in _lifecycle(shop).values() if r["shipped_ts"] is not None]
    for row in rows:
        wait = row["shipped_ts"] - row["paid_ts"]
        assert timedelta(hours=18) <= wait <= PROMISE + timedelta(days=4)
        assert row["shipped_late"] is (wait > PROMISE)
        if row["shipped_late"]:
            assert wait >= PROMISE + timedelta(days=1)
        assert timedelta(days=2) <= row["delivered_ts"] - row["shipped_ts"] <= timedelta(days=5)
        assert row["cancelled_ts"] is None
    cancelled = [r for r in _lifecycle(shop).values() if r["cancelled_ts"] is not None]
    assert cancelled and all(r["shipped_late"] is None and r["delivered_ts"] is None for r in cancelled)


def test_late_shipments_are_likelier_from_mad_and_in_the_backlog():
    n = 300_000
    rng = np.random.default_rng(1)
    warehouse = np.arange(n) % len(WAREHOUSES)
    ordinary = np.full(n, int(datetime(2025, 6, 10, 12, tzinfo=UTC).timestamp() * 1000))
    backlog = np.full(n, int(datetime(2025, 12, 28, 12, tzinfo=UTC).timestamp() * 1000))
    for paid, extra in ((ordinary, 0.0), (backlog, orders.BACKLOG_LATE_SHARE)):
        late = orders.ship_ts(warehouse, paid, paid, rng) - paid > orders.SHIP_PROMISE
        for w, name in enumerate(WAREHOUSES):
            assert late[warehouse == w].mean() == pytest.approx(orders.LATE_SHARE[name] + extra, abs=0.01)
    assert orders.LATE_SHARE["MAD"] > 2 * max(orders.LATE_SHARE["AMS"], orders.LATE_SHARE["BER"])
    days = [datetime(2025, 12, 21), datetime(2025, 12, 22), datetime(2026, 1, 2), datetime(2026, 1, 3)]
    stamps = np.array([int(d.replace(hour=23, tzinfo=UTC).timestamp() * 1000) for d in days])
    assert orders.in_backlog(stamps).tolist() == [False, True, True, False]


def _on_hand_from_movements(shop) -> tuple[dict, dict]:
    """Return (on hand at the end of each day, units sold that day), per (product, warehouse, day), from the files."""
    closing, sold = {}, defaultdict(int)
    level: dict[tuple[str, str], int] = defaultdict(int)
    movements = sorted(landing.all_records(shop, "inventory"), key=lambda m: m["movement_ts"])
    by_day = defaultdict(list)
    for m in movements:
        by_day[_ts(m["movement_ts"]).date()].append(m)
    first, last = min(by_day), landing.days(shop)[-1]
    for ordinal in range(first.toordinal(), last.toordinal() + 1):
        day = date.fromordinal(ordinal)
        for m in by_day[day]:
            key = (m["product_id"], m["warehouse"])
            level[key] += m["quantity"]
            if m["movement_type"] == "sale":
                sold[(*key, day)] -= m["quantity"]
        closing.update({(*key, day): value for key, value in level.items()})
    return closing, sold


def test_the_stock_truth_is_the_sum_of_the_inventory_movements(shop):
    closing, sold = _on_hand_from_movements(shop)
    truth = [r for day in landing.days(shop) for r in landing.truth(shop, "stock_levels", day)]
    assert {(r["product_id"], r["warehouse"], r["day"]) for r in truth} == set(closing)
    for r in truth:
        key = (r["product_id"], r["warehouse"], r["day"])
        assert (r["on_hand"], r["units_sold"]) == (closing[key], sold[key])


def test_products_sell_while_out_of_stock_and_held_up_ones_get_no_receipts(shop):
    truth = [r for day in landing.days(shop) for r in landing.truth(shop, "stock_levels", day)]
    assert any(r["on_hand"] <= 0 and r["units_sold"] > 0 for r in truth)
    options = load_options(shop)
    products = pd.read_parquet(io.BytesIO(shop.read_bytes(shop.generator_dir("products.parquet"))))
    receipts = {
        (m["product_id"], _ts(m["movement_ts"]).date())
        for m in landing.all_records(shop, "inventory")
        if m["movement_type"] == "receipt"
    }
    first = options.history_start()
    held = set()
    for ordinal in range(first.toordinal() + 1, landing.days(shop)[-1].toordinal() + 1):
        day = date.fromordinal(ordinal)
        mask = inventory.held_up(options.seed, day, products.iloc[: options.products], options.products)
        held |= {(product_id, day) for product_id in products["product_id"].to_numpy()[: options.products][mask]}
    assert len({product for product, _ in held}) >= 2, "too few supplier delays to see"
    assert not held & receipts
    # A held-up product that ran low would have been restocked: some of them run out while they sell.
    out = {(r["product_id"], r["day"]) for r in truth if r["on_hand"] <= 0 and r["units_sold"] > 0}
    assert out & held

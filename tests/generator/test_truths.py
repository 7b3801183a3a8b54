"""The truths the generator plants for analyses to find: customers who churn, and products bought together.

Each test checks what the generator wrote (orders, events, truth files) against its own record of the truth.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from datetime import date, timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest

from generator import generate
from generator.baskets import PAIR_COUNT, PAIR_PROBABILITY
from generator.crm import FADE_DAYS
from lakehouse.warehouse import Warehouse
from tests.generator import landing
from tests.generator.conftest import SMALL, make_warehouse
from tests.generator.test_integrity import _visits

START, BATCH_DAY, DAYS = date(2026, 1, 1), date(2025, 12, 31), 20


@pytest.fixture(scope="module")
def year_shop(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """A year of past and 20 days of a small shop without dirty data."""
    warehouse = make_warehouse(tmp_path_factory.mktemp("truths"))
    generate(warehouse, DAYS, history_months=12, dirty_rate=0.0, progress=False, **SMALL)
    return warehouse


def _churned(warehouse: Warehouse) -> dict[date, list[dict]]:
    return {day: landing.truth(warehouse, "churned_customers", day) for day in landing.days(warehouse)}


def _state(warehouse: Warehouse, name: str) -> pd.DataFrame:
    return pq.read_table(io.BytesIO(warehouse.read_bytes(warehouse.generator_dir(f"{name}.parquet")))).to_pandas()


def _orders(warehouse: Warehouse) -> list[tuple[date, dict]]:
    """Return (delivery day, order) of every order written."""
    return [(day, order) for day in landing.days(warehouse) for order in landing.records(warehouse, "orders", day)]


def test_each_churn_is_in_the_truth_once_on_its_day_and_the_past_holds_every_earlier_one(year_shop):
    churned = _churned(year_shop)
    assert churned[BATCH_DAY] and all(r["churned_on"] <= BATCH_DAY for r in churned[BATCH_DAY])
    during = [r for day in landing.days(year_shop)[1:] for r in churned[day] if r["churned_on"] == day]
    assert len(during) == sum(len(churned[day]) for day in landing.days(year_shop)[1:]) > 0
    ids = [r["customer_id"] for rows in churned.values() for r in rows]
    assert len(ids) == len(set(ids))
    for day, rows in churned.items():
        truth = landing.manifest(year_shop, day)["truth"]["churned_customers"]
        assert truth["rows"] == len(rows) and truth["file"].endswith(f"churned_customers/{day:%Y%m%d}.parquet")
    # Those whose churn lies after the last day are in no truth yet; the state knows all of them.
    customers = _state(year_shop, "customers")
    last = (START + timedelta(days=DAYS - 1) - date(1970, 1, 1)).days
    assert set(customers["customer_id"][customers["churn_day"] <= last]) == set(ids)
    # A year of sign-ups loses about a third of its customers by the first day.
    past = customers[customers["signup_date"] < (START - date(1970, 1, 1)).days]
    assert 0.2 < len(churned[BATCH_DAY]) / len(past) < 0.5


def test_a_churned_customer_never_orders_nor_logs_in_again(year_shop):
    gone = {r["customer_id"]: r["churned_on"] for rows in _churned(year_shop).values() for r in rows}
    orders_of_churned = 0
    for _, order in _orders(year_shop):
        if order["customer_id"] in gone:
            assert date.fromisoformat(order["order_ts"][:10]) < gone[order["customer_id"]], order
            orders_of_churned += 1
    assert orders_of_churned > 100
    for day in landing.days(year_shop)[1:]:
        for event in landing.records(year_shop, "events", day):
            assert event["customer_id"] not in gone or day < gone[event["customer_id"]], event


def test_a_customer_orders_less_and_less_before_churning(year_shop):
    signed_up = {c["customer_id"]: c["signup_date"] for c in landing.records(year_shop, "customers", BATCH_DAY)}
    gone = {r["customer_id"]: r["churned_on"] for r in landing.truth(year_shop, "churned_customers", BATCH_DAY)}
    windows = Counter()
    for order in landing.records(year_shop, "orders", BATCH_DAY):
        churned_on = gone.get(order["customer_id"])
        # Customers who were there for both windows: the last FADE_DAYS before churning, and those before them.
        if churned_on is not None and date.fromisoformat(signed_up[order["customer_id"]]) < churned_on - timedelta(
            days=2 * FADE_DAYS
        ):
            before = (churned_on - date.fromisoformat(order["order_ts"][:10])).days
            windows[before // FADE_DAYS] += 1
    # Activity fades linearly to nothing over the last FADE_DAYS: about half the orders of the window before.
    assert windows[0] < 0.75 * windows[1]


def test_the_first_delivery_holds_every_churn_so_far_without_a_past(clean_shop):
    first, *later = landing.days(clean_shop)
    churned = landing.truth(clean_shop, "churned_customers", first)
    assert churned and all(r["churned_on"] <= first for r in churned)
    assert all(r["churned_on"] == day for day in later for r in landing.truth(clean_shop, "churned_customers", day))


def test_the_planted_pairs_are_written_once_with_the_first_delivery(year_shop, clean_shop):
    for shop, first in ((year_shop, BATCH_DAY), (clean_shop, START)):
        pairs = landing.truth(shop, "planted_pairs", first)
        assert landing.manifest(shop, first)["truth"]["planted_pairs"]["rows"] == len(pairs)
        assert all("planted_pairs" not in landing.manifest(shop, day)["truth"] for day in landing.days(shop)[1:])
        assert not any(shop.exists(shop.generator_dir("truth", "planted_pairs", f"{d:%Y%m%d}.parquet"))
                       for d in landing.days(shop)[1:])  # fmt: skip
        products = {p["product_id"]: p for p in landing.records(shop, "products", first)}
        assert 8 <= len(pairs) <= PAIR_COUNT
        assert len({p[k] for p in pairs for k in ("product_id_a", "product_id_b")}) == 2 * len(pairs)
        for pair in pairs:
            a, b = products[pair["product_id_a"]], products[pair["product_id_b"]]
            assert a["active"] == b["active"] == "true"
            assert (a["category"], a["subcategory"]) != (b["category"], b["subcategory"])
            assert PAIR_PROBABILITY[0] <= pair["probability"] <= PAIR_PROBABILITY[1]


def _lift(orders: list[dict], pairs: list[dict]) -> tuple[float, float]:
    """Return (lift, share of anchor orders holding the companion) over all pairs: how much more often a pair is in
    one order than if its products were bought independently."""
    baskets = [{item["product_id"] for item in order["items"]} for order in orders]
    count = Counter(p for basket in baskets for p in basket)
    together = expected = with_anchor = 0.0
    for pair in pairs:
        a, b = pair["product_id_a"], pair["product_id_b"]
        together += sum(1 for basket in baskets if a in basket and b in basket)
        expected += count[a] * count[b] / len(baskets)
        with_anchor += count[a]
    return together / expected, together / with_anchor


def test_planted_pairs_are_bought_together_far_above_chance_in_the_past_and_every_day(year_shop):
    pairs = landing.truth(year_shop, "planted_pairs", BATCH_DAY)
    orders = _orders(year_shop)
    past = [order for day, order in orders if day == BATCH_DAY]
    daily = [order for day, order in orders if day != BATCH_DAY]
    mean_probability = sum(p["probability"] for p in pairs) / len(pairs)
    for part in (past, daily):
        lift, share = _lift(part, pairs)
        assert lift > 3
        assert mean_probability - 0.15 < share < mean_probability + 0.15


def test_a_daily_companion_is_viewed_and_added_before_checkout_in_its_order_s_visit(year_shop):
    companion = {p["product_id_a"]: p["product_id_b"] for p in landing.truth(year_shop, "planted_pairs", BATCH_DAY)}
    orders = {order["order_id"]: order for day, order in _orders(year_shop) if day != BATCH_DAY}
    events = [e for day in landing.days(year_shop)[1:] for e in landing.records(year_shop, "events", day)]
    seen = defaultdict(int)
    for visit in _visits(events):
        purchase = next((e for e in visit if e["event_type"] == "purchase"), None)
        if purchase is None:
            continue
        bought = {item["product_id"] for item in orders[purchase["order_id"]]["items"]}
        for anchor in bought & set(companion):
            if companion[anchor] in bought:
                steps = [(e["event_type"], e["product_id"]) for e in visit]
                view, add = (
                    steps.index(("product_view", companion[anchor])),
                    steps.index(("add_to_cart", companion[anchor])),
                )
                assert view < add < steps.index(("checkout", None))
                seen[anchor] += 1
    assert sum(seen.values()) > 10

"""The analysis marts against what the generator knows happened (its truth files), on the shop with a past.

The marts are built from what landed; the truth from what the generator decided. Where the two must meet — every
order's fulfilment times, every day's stock — they are compared value by value, not only for shape.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable

pytestmark = pytest.mark.e2e

PROMISE_HOURS = 48  # dbt_project.yml's ship_promise_hours, the generator's SHIP_PROMISE
# Days an order needs before everything about it has landed: shipped within 6 days, delivered within 5 more,
# returned within 20 after that, and a status change may arrive 3 days late.
MATURE_DAYS = 40


def _truth(warehouse, name: str) -> pd.DataFrame:
    files = sorted(Path(warehouse.generator_dir("truth", name)).glob("*.parquet"))
    assert files, f"the generator wrote no {name} truth"
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def _gold(tables, name: str) -> pd.DataFrame:
    return DeltaTable(tables.uri(f"gold.{name}")).to_pandas()


def _hours(start: pd.Series, finish: pd.Series) -> pd.Series:
    return (_ms(finish) - _ms(start)) / 3_600_000


def _ms(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column, utc=True).astype("datetime64[ms, UTC]").astype("int64").where(column.notna())


def _nearest_rank(values: pd.Series, p: float) -> float | None:
    ordered = sorted(v for v in values if not math.isnan(v))
    return ordered[math.ceil(p * len(ordered)) - 1] if ordered else None


def _fulfilment_truth(warehouse, tables) -> pd.DataFrame:
    """The generator's lifecycle of every order, with the order's day and shipping country as landed."""
    truth = _truth(warehouse, "order_lifecycle")
    orders = _gold(tables, "fct_orders")[["order_id", "order_date", "shipping_country"]]
    joined = truth.merge(orders, on="order_id", how="left", validate="one_to_one")
    assert joined["order_date"].notna().all(), "an order the generator made is missing from gold.fct_orders"
    return joined


def test_fulfilment_per_day_and_country_is_what_the_generator_did(past_shop):
    warehouse, tables = past_shop
    truth = _fulfilment_truth(warehouse, tables)
    mart = _gold(tables, "mart_fulfilment_daily")
    last = pd.to_datetime(mart["order_date"]).max()
    mature = pd.to_datetime(truth["order_date"]) <= last - timedelta(days=MATURE_DAYS)
    truth = truth[mature].assign(
        to_shipped=_hours(truth["order_ts"], truth["shipped_ts"]),
        to_delivered=_hours(truth["order_ts"], truth["delivered_ts"]),
        paid_to_shipped=_hours(truth["paid_ts"], truth["shipped_ts"]),
    )
    compared = 0
    for (day, country), group in truth.groupby(["order_date", "shipping_country"]):
        (row,) = mart[(mart["order_date"] == day) & (mart["shipping_country"] == country)].to_dict("records")
        expected = {
            "orders": len(group),
            "shipped_orders": int(group["shipped_ts"].notna().sum()),
            "delivered_orders": int(group["delivered_ts"].notna().sum()),
            "cancelled_orders": int(group["cancelled_ts"].notna().sum()),
            "returned_orders": int(group["returned_ts"].notna().sum()),
            "shipped_late_orders": int((group["paid_to_shipped"] > PROMISE_HOURS).sum()),
            "median_hours_to_shipped": _nearest_rank(group["to_shipped"], 0.5),
            "p90_hours_to_delivered": _nearest_rank(group["to_delivered"], 0.9),
            "p90_hours_paid_to_shipped": _nearest_rank(group["paid_to_shipped"], 0.9),
        }
        got = {k: None if pd.isna(row[k]) else row[k] for k in expected}
        assert got == {k: v if v is None else pytest.approx(v, rel=1e-12) for k, v in expected.items()}, (day, country)
        assert row["shipped_late_orders"] == int(group["shipped_late"].eq(True).sum()), (day, country)
        compared += 1
    assert compared > 100, compared
    late = truth["shipped_late"].eq(True)
    assert late.any(), "the generator planted no late shipment: the test would prove nothing"


def test_stock_cover_is_the_stock_the_generator_held(past_shop):
    warehouse, tables = past_shop
    truth = _truth(warehouse, "stock_levels").rename(columns={"day": "stock_date"})
    mart = _gold(tables, "mart_stock_cover")
    keys = ["product_id", "warehouse", "stock_date"]
    for frame in (truth, mart):
        frame["stock_date"] = pd.to_datetime(frame["stock_date"]).dt.date
    joined = mart.merge(truth, on=keys, how="outer", suffixes=("", "_truth"), indicator=True, validate="one_to_one")
    unmatched = joined[joined["_merge"] != "both"]
    assert unmatched.empty, unmatched[[*keys, "_merge"]].head()
    assert (joined["on_hand"] == joined["on_hand_truth"]).all()
    assert (joined["units_sold"] == joined["units_sold_truth"]).all()
    backorders = (truth["on_hand"] < 0) & (truth["units_sold"] > 0)
    assert mart["sold_while_out_of_stock"].sum() == backorders.sum() > 0
    assert mart["is_out_of_stock"].sum() == (truth["on_hand"] <= 0).sum()


def _churn_groups(warehouse, tables) -> tuple[pd.DataFrame, pd.Series]:
    """The churn mart, and per customer in it whether the generator had made them churn 60 days or more before the
    last day with orders (True), was keeping them (False), or made them churn lately (dropped: too early to tell)."""
    health = _gold(tables, "mart_customer_health")
    as_of = pd.to_datetime(health["last_order_date"]).max()
    churned = _truth(warehouse, "churned_customers").set_index("customer_id")["churned_on"]
    churned_on = pd.to_datetime(health["customer_id"].map(churned))
    long_gone = churned_on <= as_of - timedelta(days=60)
    kept = churned_on.isna() | (churned_on > as_of)
    known = long_gone | kept
    return health[known], long_gone[known]


def test_churn_risk_flags_the_customers_the_generator_made_churn(past_shop):
    warehouse, tables = past_shop
    health, gone = _churn_groups(warehouse, tables)
    flagged = health["churn_risk_segment"].isin(["High risk", "Lapsed"])
    assert gone.sum() > 20 and (~gone).sum() > 20, "too few churned or kept customers to judge the score"
    recall = (flagged & gone).sum() / gone.sum()
    false_alarms = (flagged & ~gone).sum() / (~gone).sum()
    assert recall >= 0.8, recall
    assert false_alarms <= 0.4, false_alarms
    assert (
        health.loc[gone.to_numpy(), "churn_risk_score"].median()
        > health.loc[~gone.to_numpy(), "churn_risk_score"].median()
    )


def test_the_pairs_the_generator_planted_are_the_strongest_bought_together(past_shop):
    warehouse, tables = past_shop
    planted = _truth(warehouse, "planted_pairs")
    planted = {tuple(sorted(pair)) for pair in zip(planted["product_id_a"], planted["product_id_b"], strict=True)}
    pairs = _gold(tables, "mart_basket_product_pairs").sort_values("lift", ascending=False)
    found = pairs[[(a, b) in planted for a, b in zip(pairs["product_id_a"], pairs["product_id_b"], strict=True)]]
    assert len(found) >= len(planted) * 0.8, (len(found), len(planted))
    assert (found["lift"] > 3).all(), found[["product_id_a", "product_id_b", "lift"]]
    others = pairs.drop(found.index)
    # Chance pairs reach a high lift only when rare; among pairs met in 10 or more orders the planted ones lead.
    common = pairs[pairs["orders_with_both"] >= 10]
    top = common.head(len(found.index.intersection(common.index)))
    assert set(top.index) <= set(found.index), top[["product_id_a", "product_id_b", "lift", "orders_with_both"]]
    assert others["lift"].median() < 3

"""Incremental gold: the same shop run day by day gives the gold it gives run at once, and a day's build rewrites
only what that day touched."""

from __future__ import annotations

import pytest
from deltalake import DeltaTable

from generator import generate
from lakehouse.pipeline import runner
from lakehouse.pipeline.context import RunContext
from lakehouse.settings import Settings
from lakehouse.tables import Tables
from lakehouse.warehouse import Warehouse
from tests.accounting import RUN_DEPENDENT, fingerprint_of, first_difference
from tests.conftest import SHOP_DAYS, SHOP_SCALE

pytestmark = pytest.mark.e2e

INCREMENTAL = (
    ("fct_orders", "order_id"),
    ("fct_order_items", "order_id"),
    ("fct_sessions", "session_date"),
    ("mart_daily_sales", "order_date"),
    ("mart_funnel_daily", "session_date"),
    ("mart_engagement_daily", "activity_date"),
    ("mart_inventory_daily", "stock_date"),
    ("mart_fulfilment_daily", "order_date"),
    ("mart_sales_geography", "order_date"),
    ("mart_stock_cover", "stock_date"),
)


def _shop(spark, root, days_per_run: int) -> Tables:
    """Return the tables of the test shop's days, generated and run `days_per_run` days at a time."""
    warehouse = Warehouse(Settings(warehouse=str(root)))
    tables = Tables(warehouse, spark)
    for day in range(0, SHOP_DAYS, days_per_run):
        generate(warehouse, days_per_run, progress=False, **SHOP_SCALE)
        last = runner.run(RunContext(tables))
        assert all(r.status == "ok" for r in last), (day, [(r.step, r.error) for r in last if r.error])
    return tables


@pytest.fixture(scope="module")
def at_once(shop):
    # The session's shop as made: the tests that add days to it (`changes_shop`, `adds_a_day`) run after this module.
    return shop[1]


@pytest.fixture(scope="module")
def day_by_day(spark, tmp_path_factory):
    return _shop(spark, tmp_path_factory.mktemp("day-by-day"), 1)


def _fingerprint(tables: Tables, name: str):
    rows = DeltaTable(tables.uri(name)).to_pyarrow_table()
    return fingerprint_of(rows)


def test_gold_built_day_by_day_equals_gold_built_at_once(at_once, day_by_day):
    gold = sorted(n for n in at_once.names() if n.startswith("gold."))
    assert sorted(n for n in day_by_day.names() if n.startswith("gold.")) == gold
    gold = [n for n in gold if n not in RUN_DEPENDENT]
    differences = [first_difference(n, _fingerprint(at_once, n), _fingerprint(day_by_day, n)) for n in gold]
    assert not [d for d in differences if d], "\n".join(d for d in differences if d)


@pytest.mark.parametrize(("model", "key"), INCREMENTAL)
def test_a_days_build_rewrites_its_models_by_key(day_by_day, model, key):
    """The last day's publish replaced the rows of the keys the day touched, not the whole table. (Late events and
    status changes reach back two days, so on a 3-day shop every day is touched; the orders are not all.)"""
    table = DeltaTable(day_by_day.uri(f"gold.{model}"))
    last = table.history(1)[0]
    predicate = last.get("operationParameters", {}).get("predicate") or ""
    assert last["operation"] == "WRITE" and predicate.startswith(key), last
    if key == "order_id":
        assert int(last["operationMetrics"]["num_added_rows"]) < table.count(), last

"""Shared fixtures: one Spark session for the whole test run (starting Spark costs seconds)."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def spark():
    from lakehouse.settings import Settings
    from lakehouse.spark import get_spark

    # With the Delta jars, so the stack's tests (delta-spark) share the session; the embedded tests' tables still
    # use delta-rs, which their warehouses' settings choose.
    settings = Settings(
        spark_master="local[2]", spark_driver_memory="2g", spark_shuffle_partitions=2, delta_engine="delta-spark"
    )
    session = get_spark(settings)
    yield session
    session.stop()


# A small shop with plenty of faults, so every rule and every path gets exercised.
SHOP_SCALE = {"customers": 300, "products": 40, "events_per_day": 2500, "dirty_rate": 0.02, "seed": 11}


SHOP_DAYS = 3


# A shop with a past: a year of history (2025), then three days of January 2026; enough past for cohorts, churn,
# baskets and stock to mean something, small enough to run in about a minute and a half.
PAST_SHOP = {"customers": 400, "products": 80, "events_per_day": 1500, "dirty_rate": 0.02, "seed": 3}
PAST_SHOP_MONTHS, PAST_SHOP_DAYS = 12, 3


def make_shop(spark, warehouse):
    """Generate the test shop's days into `warehouse` and take them through every layer; return (warehouse, tables,
    results of the run)."""
    from generator import generate
    from lakehouse.pipeline import runner
    from lakehouse.pipeline.context import RunContext
    from lakehouse.tables import Tables

    generate(warehouse, SHOP_DAYS, progress=False, **SHOP_SCALE)
    tables = Tables(warehouse, spark)
    return warehouse, tables, runner.run(RunContext(tables))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the tests around the shared shops: first the ones on a warehouse of their own, then the ones that read
    the shops as made, last the ones that add a day to them.

    The test stack's one Trino catalog serves the warehouse the last run registered, so a test on a warehouse of its
    own must run before the shared shop is made (its run registers the shared warehouse again, dbt's views included).
    """

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("own_warehouse"):
            return 0
        return 2 if item.get_closest_marker("adds_a_day") else 1

    items.sort(key=rank)


@pytest.fixture(scope="session")
def shop_as_made(spark, tmp_path_factory):
    """Return the tables of the test shop taken through every layer in one run, as made: only tests marked
    `adds_a_day` change it, and they run after every other test (unlike `shop`, which tests add days to)."""
    from lakehouse.settings import Settings
    from lakehouse.warehouse import Warehouse

    _, tables, results = make_shop(spark, Warehouse(Settings(warehouse=str(tmp_path_factory.mktemp("as-made")))))
    assert all(r.status == "ok" for r in results), [(r.step, r.error) for r in results if r.status != "ok"]
    return tables


@pytest.fixture(scope="session")
def shop(spark, tmp_path_factory):
    """Return (warehouse, tables, results of the first run) for 3 generated days taken through every layer."""
    from lakehouse.settings import Settings
    from lakehouse.warehouse import Warehouse

    return make_shop(spark, Warehouse(Settings(warehouse=str(tmp_path_factory.mktemp("warehouse")))))


@pytest.fixture(scope="session")
def past_shop(spark, tmp_path_factory):
    """Return (warehouse, tables) of the shop with a past, generated and taken through every layer in one run."""
    from generator import generate
    from lakehouse.pipeline import runner
    from lakehouse.pipeline.context import RunContext
    from lakehouse.settings import Settings
    from lakehouse.tables import Tables
    from lakehouse.warehouse import Warehouse

    warehouse = Warehouse(Settings(warehouse=str(tmp_path_factory.mktemp("past_shop"))))
    generate(warehouse, PAST_SHOP_DAYS, history_months=PAST_SHOP_MONTHS, progress=False, **PAST_SHOP)
    tables = Tables(warehouse, spark)
    results = runner.run(RunContext(tables))
    assert not [r for r in results if r.status == "failed"], [(r.step, r.error) for r in results if r.error]
    return warehouse, tables

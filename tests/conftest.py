"""Shared fixtures: one Spark session for the whole test run (starting Spark costs seconds)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
    """Order the tests around the shared shops: first the ones on a warehouse of their own (`own_warehouse`), then
    the ones that read the shops, then the one that adds a day to the stack's shop and its embedded twin
    (`adds_a_day`: the twin must still be the stack shop's until then), last the ones that change the embedded shop
    (`changes_shop`). Within each group the tests keep the order they were collected in.

    The test stack's one Trino catalog serves the warehouse the last run registered, so a test on a warehouse of its
    own must run before the shared shop is made (its run registers the shared warehouse again, dbt's views included).

    A module-scoped fixture that a late test shares with the other tests of its module (Superset serving the shop)
    would be made a second time if they ran apart: they run with the late test, in their module's order.
    """

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("own_warehouse"):
            return 0
        if item.get_closest_marker("adds_a_day"):
            return 2
        return 3 if item.get_closest_marker("changes_shop") else 1

    ranks = {item.nodeid: rank(item) for item in items}
    # The module-scoped fixtures of the late tests, by module, and the latest group each is needed in.
    late: dict[tuple[Path, str], int] = {}
    for item in items:
        if ranks[item.nodeid] > 1:
            for name in _module_fixtures(item):
                late[(item.path, name)] = max(ranks[item.nodeid], late.get((item.path, name), 1))
    for item in items:
        if ranks[item.nodeid] == 1:
            ranks[item.nodeid] = max((late.get((item.path, name), 1) for name in _module_fixtures(item)), default=1)
    items.sort(key=lambda item: ranks[item.nodeid])


def _module_fixtures(item: pytest.Item) -> set[str]:
    """Return the names of the module-scoped fixtures a test uses (from pytest's record of its fixtures)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return set()
    return {name for name, defs in info.name2fixturedefs.items() if defs and defs[-1].scope == "module"}


@pytest.fixture(scope="session")
def shop(spark, tmp_path_factory):
    """Return (warehouse, tables, results of the first run) for 3 generated days taken through every layer, once per
    session. Most tests read it as made; the tests marked `changes_shop` (they add days, delete or rewrite tables)
    run after all of them, and so does the stack's `adds_a_day` test, which adds a day to it and to the stack's twin
    (tests/stack/conftest.py)."""
    from lakehouse.settings import Settings
    from lakehouse.warehouse import Warehouse

    warehouse, tables, results = make_shop(
        spark, Warehouse(Settings(warehouse=str(tmp_path_factory.mktemp("warehouse"))))
    )
    assert all(r.status == "ok" for r in results), [(r.step, r.error) for r in results if r.status != "ok"]
    return warehouse, tables, results


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

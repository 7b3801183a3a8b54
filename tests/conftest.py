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


@pytest.fixture(scope="session")
def shop(spark, tmp_path_factory):
    """Return (warehouse, tables, results of the first run) for 3 generated days taken through every layer."""
    from lakehouse.settings import Settings
    from lakehouse.warehouse import Warehouse

    return make_shop(spark, Warehouse(Settings(warehouse=str(tmp_path_factory.mktemp("warehouse")))))

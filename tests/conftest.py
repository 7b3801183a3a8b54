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

    session = get_spark(Settings(spark_master="local[2]", spark_driver_memory="2g", spark_shuffle_partitions=2))
    yield session
    session.stop()

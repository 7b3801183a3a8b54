"""The one Spark session a run uses. Starting Spark costs seconds, so every step shares it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.settings import Settings

LOG_CONFIG = Path(__file__).with_name("log4j2.properties")


def get_spark(settings: Settings, app_name: str = "lakehouse") -> SparkSession:
    """Return the active Spark session, creating it from `settings` on first use."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Python workers must run the interpreter that has this package, also under spark-submit.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # The table layer hands Spark explicit file lists; listing them with a distributed job (Spark's default
        # above 32 paths) costs more than it saves on one machine.
        .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG_CONFIG}")
    )
    # Under spark-submit the JVM is already running (its gateway port is in the environment) and the master and
    # memory come from the spark-submit command line; only choose them when this process starts Spark itself.
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        if settings.spark_master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.master(settings.spark_master).config("spark.driver.memory", settings.spark_driver_memory)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark

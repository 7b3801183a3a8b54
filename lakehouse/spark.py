"""The one Spark session a run uses. Starting Spark costs seconds, so every step shares it."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from lakehouse.settings import Settings


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
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", "-Dlog4j2.level=ERROR")
    )
    # Under spark-submit the master and memory come from the command line; only set them when we start Spark.
    if "SPARK_SUBMIT_OPTS" not in os.environ and not os.environ.get("PYSPARK_SUBMIT_ARGS"):
        builder = builder.master(settings.spark_master).config("spark.driver.memory", settings.spark_driver_memory)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark

"""The stack under faults: the S3 server stopped in the middle of a run, and a driver too small to hold the data."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from generator import generate
from lakehouse import stack
from lakehouse.errors import PipelineError
from lakehouse.pipeline import SPARK_LAYERS, runner
from lakehouse.pipeline.context import RunContext, StepResult
from lakehouse.spark import use_s3
from lakehouse.stack import artifacts
from lakehouse.tables import Tables
from lakehouse.warehouse import Warehouse
from tests.accounting import check_bronze, check_silver

pytestmark = [pytest.mark.stack, pytest.mark.e2e, pytest.mark.own_warehouse]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class _StopS3After(runner.Listener):
    """Stops the S3 server as soon as one step has finished, as a crash of the storage would."""

    def __init__(self, settings, step: str):
        self.settings, self.step, self.stopped = settings, step, False

    def finished(self, result: StepResult, index: int, total: int) -> None:
        if result.step == self.step and not self.stopped:
            (service,) = [s for s in stack.services(self.settings) if s.name == "seaweedfs"]
            stack.supervisor(self.settings).stop(service, grace=0)
            self.stopped = True


def test_s3_stopped_in_the_middle_of_a_run_loses_and_doubles_nothing(spark, stack_settings):
    settings = dataclasses.replace(stack_settings, warehouse="s3://lakehouse-test/s3-outage")
    use_s3(spark, settings)
    warehouse = Warehouse(settings)
    generate(warehouse, 2, customers=150, products=30, events_per_day=800, dirty_rate=0.02, seed=3, progress=False)
    tables = Tables(warehouse, spark)
    listener = _StopS3After(settings, "silver.customers")
    try:
        with pytest.raises(PipelineError):
            runner.run(RunContext(tables), SPARK_LAYERS, listener)
    finally:
        stack.up(settings, say=lambda line: None)  # started again, on the same data
    assert listener.stopped
    tables.refresh()
    again = runner.run(RunContext(tables), SPARK_LAYERS)
    assert all(r.status in ("ok", "skipped") for r in again)
    check_bronze(warehouse, tables)
    check_silver(warehouse, tables)
    assert tables.read("gold.sessions").count() == tables.read("gold.sessions").select("session_id").distinct().count()


def _submit(layers: tuple[str, ...], settings, *, engine: str, max_result: str = "1m") -> subprocess.CompletedProcess:
    """spark-submit the jobs of `layers`, one after another in one submission, with the driver's results capped."""
    env = {
        **os.environ,
        **settings.s3.environment(),
        "LAKEHOUSE_ENV": "stack",
        "LAKEHOUSE_WAREHOUSE": settings.warehouse,
        "LAKEHOUSE_DELTA_ENGINE": engine,
        "LAKEHOUSE_TRINO_URL": settings.trino_url,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYSPARK_PYTHON": sys.executable,
    }
    jars = ",".join(artifacts.spark_jars(Path(settings.cache_dir)))
    command = [str(BIN / "spark-submit"), "--master", "local[2]", "--jars", jars]
    command += ["--conf", f"spark.driver.maxResultSize={max_result}", str(Path(__file__).parent / "layer_jobs.py")]
    command += list(layers)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False, cwd=ROOT)


def test_delta_spark_writes_do_not_pass_through_the_driver(stack_settings):
    """Under spark-submit with 1 MB for all task results together, the layers still write many MB of Delta."""
    settings = dataclasses.replace(stack_settings, warehouse="s3://lakehouse-test/driver-cap")
    warehouse = Warehouse(settings)
    generate(warehouse, 1, customers=2000, products=100, events_per_day=20000, seed=5, progress=False)
    done = _submit(SPARK_LAYERS, settings, engine="delta-spark")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert {"bronze.events", "silver.events", "gold.sessions"} <= set(warehouse.tables())  # every layer's job ran
    events = DeltaTable(warehouse.table_uri("bronze.events"), storage_options=settings.storage_options())
    written = sum(events.get_add_actions(flatten=True).column("size_bytes").to_pylist())
    assert written > 1024 * 1024  # more than the driver may receive, even compressed
    # The same job with the engine that collects to the driver breaks the limit: the limit really binds.
    collecting = dataclasses.replace(settings, warehouse="s3://lakehouse-test/driver-cap-delta-rs")
    generate(Warehouse(collecting), 1, customers=2000, products=100, events_per_day=20000, seed=5, progress=False)
    failed = _submit(("bronze",), collecting, engine="delta-rs")
    assert failed.returncode != 0
    assert "maxResultSize" in failed.stdout + failed.stderr

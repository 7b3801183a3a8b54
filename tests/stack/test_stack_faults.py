"""The stack under faults: the S3 server stopped in the middle of a spark-submit run whose driver is too small to hold
the data; two runs started at once on one warehouse on S3."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from generator import generate
from lakehouse import stack
from lakehouse.pipeline import SPARK_LAYERS
from lakehouse.spark import use_s3
from lakehouse.stack import artifacts
from lakehouse.tables import Tables
from lakehouse.warehouse import Warehouse
from tests.accounting import check_bronze, check_silver
from tests.test_lease import two_runs_at_once

pytestmark = [pytest.mark.stack, pytest.mark.e2e, pytest.mark.own_warehouse]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _environment(settings) -> dict[str, str]:
    """Return the environment of a process of the pipeline's on the stack's warehouse of `settings`."""
    return {
        **os.environ,
        **settings.s3.environment(),
        "LAKEHOUSE_ENV": "stack",
        "LAKEHOUSE_WAREHOUSE": settings.warehouse,
        "LAKEHOUSE_DELTA_ENGINE": "delta-spark",
        "LAKEHOUSE_TRINO_URL": settings.trino_url,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYSPARK_PYTHON": sys.executable,
        "PYTHONUNBUFFERED": "1",
    }


def _submit(
    layers: tuple[str, ...], settings, *, max_result: str = "1m", collect: str | None = None
) -> subprocess.Popen:
    """Start spark-submit on the jobs of `layers`, one after another in one submission, with the driver's results
    capped at `max_result`; then, with `collect`, that table fetched to the driver. Its output comes line by line."""
    env = _environment(settings)
    jars = ",".join(artifacts.spark_jars(Path(settings.cache_dir)))
    command = [str(BIN / "spark-submit"), "--master", "local[2]", "--jars", jars]
    command += ["--conf", f"spark.driver.maxResultSize={max_result}", str(Path(__file__).parent / "layer_jobs.py")]
    command += [*layers, *(["--then-collect", collect] if collect else [])]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, cwd=ROOT
    )


def _finish(job: subprocess.Popen, *, stop_s3_after: str | None = None, settings=None) -> tuple[int, str]:
    """Wait for `job`; with `stop_s3_after`, stop the S3 server (at once, as a crash of the storage would) as soon as
    the job reports that step finished. Return its exit code and output."""
    output, stopped = [], False
    assert job.stdout is not None
    for line in job.stdout:
        output.append(line)
        if stop_s3_after and not stopped and re.search(rf"\] {re.escape(stop_s3_after)}\s.* in →", line):
            (service,) = [s for s in stack.services(settings) if s.name == "seaweedfs"]
            stack.supervisor(settings).stop(service, grace=0)
            stopped = True
    code = job.wait(timeout=900)
    text = "".join(output)
    assert stopped or not stop_s3_after, f"the job never reported {stop_s3_after}:\n{text[-3000:]}"
    return code, text


def test_spark_submit_survives_s3_stopping_mid_run_and_never_passes_the_data_through_the_driver(spark, stack_settings):
    """The three layer jobs under spark-submit with 1 MB for all task results together: S3 stops as soon as a silver
    step has finished, the run fails, S3 comes back and the jobs are submitted again. Every landing record is then
    accounted for once, and the layers wrote more than the driver could have received; fetching that table to the
    driver, as an engine that collects would, breaks the limit (the limit really binds)."""
    settings = dataclasses.replace(stack_settings, warehouse="s3://lakehouse-test/s3-outage")
    warehouse = Warehouse(settings)
    generate(warehouse, 1, customers=2000, products=100, events_per_day=20000, dirty_rate=0.02, seed=5, progress=False)
    try:
        code, output = _finish(_submit(SPARK_LAYERS, settings), stop_s3_after="silver.customers", settings=settings)
    finally:
        stack.up(settings, say=lambda line: None)  # started again, on the same data
    assert code != 0, output[-3000:]
    assert "gold — run" not in output  # the run stopped where S3 went
    code, output = _finish(_submit(SPARK_LAYERS, settings, collect="bronze.events"))
    assert code == 0, output[-3000:]
    assert all(f"{layer} — run" in output for layer in SPARK_LAYERS)  # every layer's job ran to its summary
    collected = [line for line in output.splitlines() if "collect bronze.events" in line]
    assert len(collected) == 1 and collected[0].startswith("could not collect"), output[-3000:]
    assert "bigger than spark.driver.maxResultSize" in collected[0], collected
    use_s3(spark, settings)
    tables = Tables(warehouse, spark)
    check_bronze(warehouse, tables)
    check_silver(warehouse, tables)
    assert tables.read("gold.sessions").count() == tables.read("gold.sessions").select("session_id").distinct().count()
    events = DeltaTable(warehouse.table_uri("bronze.events"), storage_options=settings.storage_options())
    written = sum(events.get_add_actions(flatten=True).column("size_bytes").to_pylist())
    assert written > 1024 * 1024  # more than the driver may receive, even compressed


def test_two_runs_at_once_on_s3_one_writes_the_other_is_refused_and_nothing_doubles(stack_settings, tmp_path):
    settings = dataclasses.replace(stack_settings, warehouse="s3://lakehouse-test/two-runs")
    two_runs_at_once(Warehouse(settings), _environment(settings), tmp_path)

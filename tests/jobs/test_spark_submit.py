"""Each layer's job runs on its own under spark-submit, as an engineer would start it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from generator import generate
from lakehouse.settings import Settings
from lakehouse.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _submit(job: str, warehouse: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "LAKEHOUSE_WAREHOUSE": str(warehouse),
        # spark-submit finds Spark and Python through the virtual environment, as `uv run` sets it up.
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYSPARK_PYTHON": sys.executable,
    }
    return subprocess.run(
        [str(BIN / "spark-submit"), "--master", "local[1]", str(ROOT / "jobs" / f"{job}.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.e2e
def test_jobs_run_one_after_another_under_spark_submit(tmp_path):
    warehouse = Warehouse(Settings(warehouse=str(tmp_path)))
    generate(warehouse, 1, customers=60, products=15, events_per_day=300, progress=False)
    for job, table in (("bronze", "bronze.events"), ("silver", "silver.events"), ("gold", "gold.sessions")):
        done = _submit(job, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{job} — run" in done.stdout
        assert DeltaTable(warehouse.table_uri(table)).version() == 0


def test_a_job_says_what_is_wrong_and_fails(tmp_path):
    done = _submit("bronze", tmp_path / "nowhere")
    assert done.returncode == 1
    output = done.stdout + done.stderr  # spark-submit passes the script's stderr on as its stdout
    assert "error: no warehouse at" in output
    assert "Traceback" not in output

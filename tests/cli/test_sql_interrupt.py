"""Stopping `lakehouse sql`: Ctrl-C and --timeout cancel the query at once, with one line and no traceback.

The commands run as processes, as a user runs them, on a small Delta table made slow by a cross join (no Spark).
tests/stack/test_sql_cancel.py does the same against the real Trino.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakehouse.cli.sql import INTERRUPTED, Cancelled, cancellable
from lakehouse.settings import Settings
from lakehouse.sql import SqlEngine
from lakehouse.warehouse import Warehouse

LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))
# 8e9 rows to sum: minutes of work for DuckDB, so only a cancel ends it within the tests' bounds.
SLOW = (
    "select sum(a.n * b.n + c.n) as total "
    "from silver.numbers as a cross join silver.numbers as b cross join silver.numbers as c"
)
# How long after the signal (or the time limit) the process must have ended, exit included.
ENDED_WITHIN = 2.0


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Warehouse:
    warehouse = Warehouse(Settings(warehouse=str(tmp_path_factory.mktemp("interrupt_wh"))))
    write_deltalake(warehouse.table_uri("silver.numbers"), pa.table({"n": pa.array(range(2000), pa.int64())}))
    return warehouse


def start(warehouse: Warehouse, cwd: Path, *args: str) -> subprocess.Popen:
    """Start `lakehouse sql ARGS` on the warehouse, with Ctrl-C delivered as a terminal delivers it."""
    return start_with({"LAKEHOUSE_WAREHOUSE": warehouse.root, "LAKEHOUSE_ENV": "embedded"}, cwd, *args)


def start_with(environment: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [LAKEHOUSE, "sql", *args],
        env={**os.environ, **environment},
        cwd=cwd,  # away from the repository's .env
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell starts background jobs with SIGINT ignored, which a child inherits; a terminal's Ctrl-C is not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def finish(process: subprocess.Popen) -> tuple[str, str]:
    try:
        return process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("lakehouse sql was not stopped: it ran on for a minute")


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def slack(startup: float) -> float:
    """Return how long another `lakehouse sql` may take to start its query, on a machine busy with other work."""
    return 1.5 * startup


@pytest.fixture(scope="module")
def startup(warehouse, tmp_path_factory) -> float:
    """Return the seconds `lakehouse sql` takes to answer a quick query: until the slow one runs, plus a little."""
    clock = time.monotonic()
    process = start(warehouse, tmp_path_factory.mktemp("cwd"), "select count(*) as n from silver.numbers")
    out, err = finish(process)
    assert process.returncode == 0, err
    assert "2000" in out
    return time.monotonic() - clock


def test_ctrl_c_cancels_the_query_and_exits_130_with_one_line(warehouse, startup, tmp_path):
    process = start(warehouse, tmp_path, SLOW)
    time.sleep(slack(startup) + 1.0)  # the query has run a second or more
    assert process.poll() is None, "the slow query ended before Ctrl-C"
    process.send_signal(signal.SIGINT)
    signalled = time.monotonic()
    out, err = finish(process)
    ended = time.monotonic() - signalled

    assert process.returncode == INTERRUPTED
    assert out == ""
    assert len(lines(err)) == 1, err
    assert re.fullmatch(r"interrupted: the query was cancelled after \d+\.\d s", err.strip()), err
    assert "Traceback" not in err and "panicked" not in err
    assert ended < ENDED_WITHIN, f"ended {ended:.1f} s after Ctrl-C"


def test_timeout_cancels_the_query_and_says_how_to_raise_it(warehouse, startup, tmp_path):
    clock = time.monotonic()
    process = start(warehouse, tmp_path, "--timeout", "1", SLOW)
    out, err = finish(process)
    ended = time.monotonic() - clock

    assert process.returncode == 1
    assert out == ""
    assert len(lines(err)) == 1, err
    assert "the query ran longer than --timeout 1 s and was cancelled" in err
    assert "give a larger --timeout" in err
    assert "Traceback" not in err and "panicked" not in err
    assert ended < slack(startup) + 1 + ENDED_WITHIN, f"ended {ended:.1f} s after it started (startup {startup:.1f} s)"


def test_a_cancelled_query_leaves_no_thread_working(warehouse):
    engine = SqlEngine(warehouse)
    try:
        with pytest.raises(Cancelled) as stop:
            cancellable(lambda: engine.query(SLOW), engine.interrupt, timeout=0.5)
        assert stop.value.timed_out
        assert not [t for t in threading.enumerate() if t.name == "lakehouse-sql-query"]
        spent = time.process_time()
        time.sleep(0.5)
        # DuckDB's threads are idle, not finishing the join in the background
        assert time.process_time() - spent < 0.1
        assert engine.query("select count(*) as n from silver.numbers").table.to_pylist() == [{"n": 2000}]
    finally:
        engine.close()


def test_an_uncancelled_query_gives_its_answer_or_its_error():
    assert cancellable(lambda: 42, lambda: None, timeout=5) == 42

    def fail() -> None:
        raise ValueError("no such thing")

    with pytest.raises(ValueError, match="no such thing"):
        cancellable(fail, lambda: None)

"""`lakehouse sql` on the stack: Ctrl-C and --timeout cancel the query in the real Trino, not only in the client."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from lakehouse.trino import PIPELINE_USER

pytestmark = pytest.mark.stack

LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))


def _slow(tag: str) -> str:
    """Return a query Trino works on for hours (10^12 rows to count), tagged so it can be found again."""
    n = "unnest(sequence(1, 10000))"
    return f"select count(*) as {tag} from {n} as a (x) cross join {n} as b (y) cross join {n} as c (z)"


def _start(settings, tmp_path: Path, *args: str) -> subprocess.Popen:
    environment = {
        **os.environ,
        **settings.s3.environment(),
        "LAKEHOUSE_ENV": "stack",
        "LAKEHOUSE_TRINO_URL": settings.trino_url,
        "LAKEHOUSE_WAREHOUSE": settings.warehouse,
    }
    return subprocess.Popen(
        [LAKEHOUSE, "sql", *args],
        env=environment,
        cwd=tmp_path,  # away from the repository's .env
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _queries(settings, tag: str) -> list[dict]:
    """Return what Trino's REST API says of the tagged query (as the user that ran it, who may see its own)."""
    answer = requests.get(f"{settings.trino_url}/v1/query", headers={"X-Trino-User": PIPELINE_USER}, timeout=10)
    answer.raise_for_status()
    return [q for q in answer.json() if f"as {tag} from" in q.get("query", "")]


def _state_in_trino(settings, tag: str) -> tuple[str, str | None]:
    """Return the state and error name Trino has for the tagged query, once it has settled (or as it is)."""
    found: list[dict] = []
    for _ in range(50):
        found = _queries(settings, tag)
        if found and found[0]["state"] in ("FAILED", "FINISHED"):
            break
        time.sleep(0.2)
    if not found:
        return ("never seen", None)
    return found[0]["state"], (found[0].get("errorCode") or {}).get("name")


def _running_in_trino(settings, tag: str) -> bool:
    return any(q["state"] == "RUNNING" for q in _queries(settings, tag))


def test_timeout_cancels_the_query_in_trino(stack_settings, tmp_path):
    tag = f"timed_{int(time.time())}"
    process = _start(stack_settings, tmp_path, "--timeout", "3", _slow(tag))
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    assert "the query ran longer than --timeout 3 s" in err and "Traceback" not in err
    assert _state_in_trino(stack_settings, tag) == ("FAILED", "USER_CANCELED")


def test_ctrl_c_cancels_the_query_in_trino(stack_settings, tmp_path):
    tag = f"interrupted_{int(time.time())}"
    process = _start(stack_settings, tmp_path, _slow(tag))
    for _ in range(300):  # until Trino is working on it
        if _running_in_trino(stack_settings, tag):
            break
        time.sleep(0.2)
    else:
        pytest.fail("the query never ran in Trino")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert re.fullmatch(r"interrupted: the query was cancelled after \d+\.\d s", err.strip()), err
    assert _state_in_trino(stack_settings, tag) == ("FAILED", "USER_CANCELED")

"""The warehouse's write lease on S3, against a real SeaweedFS of its own: the conditional writes it relies on are
honoured, and the same scenarios as on a local disk hold (tests/test_lease.py).

Only SeaweedFS is started, on ports of its own (S3 14333; master, volume and filer derive from it), beside the
stack tests' (12333) and a developer's (8333).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from lakehouse import stack
from lakehouse.lease import _S3Store, _store
from lakehouse.settings import Settings
from lakehouse.stack.supervisor import Supervisor
from lakehouse.warehouse import Warehouse
from tests import test_lease as scenarios
from tests.ports import port

pytestmark = pytest.mark.stack

S3_PORT = port(14333)
STATE_DIR = Path(tempfile.gettempdir()) / f"lease-test-stack-{S3_PORT}" / "stack"
BUCKET = "lease-test"


@pytest.fixture(scope="module")
def s3_settings():
    """Return settings of a running SeaweedFS of this module's own; it stops after the module's tests."""
    settings = Settings(
        deployment="stack",
        warehouse=f"s3://{BUCKET}/warehouse",
        s3_endpoint=f"http://127.0.0.1:{S3_PORT}",
        s3_access_key=f"lease{secrets.token_hex(6)}",
        s3_secret_key=secrets.token_urlsafe(24),
        stack_dir=str(STATE_DIR),
    )
    service = stack.seaweedfs(settings, STATE_DIR)
    assert service is not None
    boss = Supervisor(STATE_DIR)
    boss.stop(service)  # whatever an interrupted session left running
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    boss.start(service, say=lambda line: None)
    try:
        yield settings
    finally:
        boss.stop(service)


@pytest.fixture
def warehouse(s3_settings) -> Warehouse:
    """Return a warehouse of its own in the bucket, for one test."""
    return Warehouse(replace(s3_settings, warehouse=f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}"))


def test_seaweedfs_honours_the_conditional_writes_the_lease_relies_on(warehouse):
    store = _store(warehouse)
    assert isinstance(store, _S3Store)
    assert store.read() is None
    first = store.create(b"one")
    assert first is not None
    assert store.create(b"two") is None  # If-None-Match: * over an object
    assert store.read() == (b"one", first)
    second = store.replace(b"two", first)  # If-Match on the current ETag
    assert second is not None and second != first
    assert store.replace(b"three", first) is None  # If-Match on an old ETag
    assert store.delete(first) is False  # DELETE If-Match on an old ETag
    assert store.read() == (b"two", second)
    assert store.delete(second) is True
    assert store.read() is None
    assert store.replace(b"four", second) is None  # If-Match on an object that is gone


def test_a_second_lease_is_refused_naming_the_holder(warehouse):
    scenarios.second_is_refused_naming_the_holder(warehouse)


def test_a_second_lease_waits_and_gets_it_once_released(warehouse):
    scenarios.second_waits_and_gets_it_once_released(warehouse)


def test_the_lease_of_a_crashed_process_is_taken_over_at_once(warehouse):
    scenarios.crashed_holder_is_taken_over(warehouse)


def test_a_lease_whose_heartbeat_stopped_is_taken_over(warehouse):
    scenarios.silent_holder_is_taken_over(warehouse)


def test_one_of_many_threads_takes_over_a_stale_lease(warehouse):
    scenarios.one_of_many_threads_takes_over_a_stale_lease(warehouse, rounds=10)


def test_one_of_many_processes_takes_over_a_stale_lease(warehouse):
    scenarios.one_of_many_processes_takes_over_a_stale_lease(warehouse)


def test_a_paused_holder_finds_its_lease_lost_and_stops(warehouse):
    scenarios.paused_holder_finds_its_lease_lost(warehouse)


def test_the_holder_renews_its_heartbeat_and_gives_the_lease_back_on_ctrl_c(warehouse):
    scenarios.holder_renews_and_gives_back_on_ctrl_c(warehouse)

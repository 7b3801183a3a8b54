"""The stack for the tests: a real SeaweedFS and a real Trino, started once, on ports of their own.

They run beside a developer's own stack (which uses 8333 and 8080), with their own state directory, a bucket of
their own and keys made for this test session.

One shop is taken through every layer on the stack once per session (`stack_shop`), and the same shop through the
embedded deployment (`embedded_twin`, the session's `shop`): the modules that compare the two, check access or serve
Superset over Trino read them, and only a test marked `adds_a_day` changes them. It runs after every test that reads
them, and before the tests that change the embedded shop alone (`changes_shop`), which run last; tests/conftest.py
orders them.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from lakehouse import stack
from lakehouse.settings import Settings
from lakehouse.spark import use_s3
from lakehouse.warehouse import Warehouse
from tests.conftest import make_shop
from tests.ports import port

S3_PORT = port(12333)
TRINO_PORT = port(18080)


# One place per S3 port across test sessions, so a stack left running by an interrupted session is found and stopped.
STATE_DIR = Path(tempfile.gettempdir()) / f"lakehouse-test-stack-{S3_PORT}"


@pytest.fixture(scope="session")
def stack_settings():
    """Return settings of a running test stack (delta-spark on S3, Trino); the stack stops after the tests."""
    settings = Settings(
        deployment="stack",
        warehouse="s3://lakehouse-test/warehouse",
        delta_engine="delta-spark",
        s3_endpoint=f"http://127.0.0.1:{S3_PORT}",
        s3_access_key=f"test{secrets.token_hex(6)}",
        s3_secret_key=secrets.token_urlsafe(24),
        trino_url=f"http://127.0.0.1:{TRINO_PORT}",
        stack_dir=str(STATE_DIR),
    )
    stack.down(settings)  # whatever an interrupted session left running
    shutil.rmtree(STATE_DIR, ignore_errors=True)  # each session starts from an empty bucket
    stack.up(settings, say=lambda line: None)
    try:
        yield settings
    finally:
        stack.down(settings)


@pytest.fixture(scope="session")
def stack_shop(spark, stack_settings):
    """Return (warehouse, tables, results) of the test shop taken through every layer on the stack (dbt on Trino)."""
    use_s3(spark, stack_settings)
    return make_shop(spark, Warehouse(stack_settings))


@pytest.fixture(scope="session")
def embedded_twin(shop):
    """Return the tables of the same shop (same seed, same days) taken through the embedded deployment: the session's
    `shop`, which no test changes before the `adds_a_day` test has run."""
    return shop[1]

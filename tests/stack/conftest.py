"""The stack for the tests: a real SeaweedFS and a real Trino, started once, on ports of their own.

They run beside a developer's own stack (which uses 8333 and 8080), with their own state directory, a bucket of
their own and keys made for this test session.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from lakehouse import stack
from lakehouse.settings import Settings
from tests.ports import port

S3_PORT = port(28333)
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

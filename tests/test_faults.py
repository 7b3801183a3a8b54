"""The fault suite, embedded: a run crashed after any one of its table writes, then run again, ends as a run never
disturbed (tests/faults.py says how; tests/stack/test_stack_crashes.py does the same on the stack).

CI tries every `LAKEHOUSE_FAULT_STRIDE`-th commit (4 by default, starting with the first and ending with the last);
`LAKEHOUSE_FAULT_STRIDE=1 pytest tests/test_faults.py -s` tries them all and prints the figures docs/operations.md
gives.
"""

from __future__ import annotations

import os

import pytest

from lakehouse.settings import Settings
from tests import faults

pytestmark = pytest.mark.e2e

STRIDE = int(os.environ.get("LAKEHOUSE_FAULT_STRIDE", "4"))


@pytest.fixture(scope="module")
def sweep(spark, tmp_path_factory) -> faults.Sweep:
    return faults.record(spark, Settings(warehouse=str(tmp_path_factory.mktemp("faults") / "warehouse")), STRIDE)


def test_a_run_crashed_after_any_of_its_writes_ends_on_the_next_run_as_if_undisturbed(sweep, spark):
    print(f"\nfault suite: {faults.crash(sweep, spark)}")

"""The fault suite on the stack: a run of delta-spark writing to the S3 server crashed after any one of its table
writes, then run again, ends as a run never disturbed (tests/faults.py says how; the warehouse's copies are made
on the S3 server itself).

CI tries every `LAKEHOUSE_STACK_FAULT_STRIDE`-th commit (23 by default: the first, one half-way and the last);
`LAKEHOUSE_STACK_FAULT_STRIDE=1 pytest tests/stack/test_stack_crashes.py -s` tries them all.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from lakehouse.spark import use_s3
from tests import faults

pytestmark = [pytest.mark.stack, pytest.mark.e2e, pytest.mark.own_warehouse]

STRIDE = int(os.environ.get("LAKEHOUSE_STACK_FAULT_STRIDE", "23"))


@pytest.fixture(scope="module")
def sweep(spark, stack_settings) -> faults.Sweep:
    settings = dataclasses.replace(stack_settings, warehouse="s3://lakehouse-test/crash-sweep")
    use_s3(spark, settings)
    return faults.record(spark, settings, STRIDE)


def test_a_stack_run_crashed_after_any_of_its_writes_ends_on_the_next_run_as_if_undisturbed(sweep, spark):
    print(f"\nstack fault suite: {faults.crash(sweep, spark)}")

"""The run summary: batches are the warehouse's sequence numbers, shown as they are."""

from __future__ import annotations

from lakehouse.pipeline.context import StepResult
from lakehouse.report import _batches


def test_the_summary_shows_batch_numbers_not_days():
    assert _batches(StepResult(step="bronze.orders", table="bronze.orders", batch_from=1, batch_to=3)) == "1→3"
    assert _batches(StepResult(step="bronze.orders", table="bronze.orders", batch_from=4, batch_to=4)) == "4"
    assert _batches(StepResult(step="silver.orders", table="silver.orders", batch_to=2)) == "…→2"
    assert _batches(StepResult(step="gold.sessions", table="gold.sessions")) == ""

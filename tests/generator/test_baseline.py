"""The per-row baseline writes the same entity as the vectorised generator, so comparing them is fair."""

from __future__ import annotations

import json
from datetime import date

from generator.baseline import baseline_events, compare, vectorised_events
from generator.schema import EVENT_TYPES, FIELDS


def test_baseline_and_generator_write_the_same_fields_and_format():
    fast, rows = vectorised_events(3_000, day=date(2026, 1, 5))
    slow = baseline_events(500)
    fast_records = [json.loads(line) for line in fast.decode().splitlines()]
    slow_records = [json.loads(line) for line in slow.decode().splitlines()]
    assert len(fast_records) == rows and len(slow_records) >= 500
    for records in (fast_records, slow_records):
        assert all(list(r) == list(FIELDS["events"]) for r in records)
        assert {r["event_type"] for r in records} <= set(EVENT_TYPES)
        assert [r["event_ts"] for r in records] == sorted(r["event_ts"] for r in records)
    # Both compact JSON, one object per line.
    assert b'", "' not in fast and b'", "' not in slow


def test_compare_measures_both_paths_on_about_the_same_rows():
    result = compare(2_000)
    assert abs(result.vectorised_rows - result.baseline_rows) <= 50
    assert result.vectorised_rows_per_second > 0 and result.baseline_rows_per_second > 0
    assert result.speedup == result.vectorised_rows_per_second / result.baseline_rows_per_second

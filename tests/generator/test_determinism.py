"""The same seed and options give the same bytes, however the days are split into runs."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from generator import generate
from tests.generator.conftest import SMALL, make_warehouse


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_three_days_at_once_equal_one_then_two(tmp_path):
    at_once, in_parts = make_warehouse(tmp_path / "a"), make_warehouse(tmp_path / "b")
    # A high dirty rate puts late records and next-day duplicates across the break between the runs.
    options = {**SMALL, "dirty_rate": 0.08}
    generate(at_once, 3, progress=False, **options)
    generate(in_parts, 1, progress=False, **options)
    generate(in_parts, 2, progress=False)

    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert len([name for name in a if name.endswith((".csv", ".jsonl"))]) == 18
    different = [name for name in a if a[name] != b[name]]
    assert different == []


def test_another_seed_gives_other_data(tmp_path):
    one, two = make_warehouse(tmp_path / "a"), make_warehouse(tmp_path / "b")
    generate(one, 1, seed=1, progress=False, **SMALL)
    generate(two, 1, seed=2, progress=False, **SMALL)
    day = one.landing_days("events")[0]
    assert one.read_bytes(one.landing_file("events", day, "jsonl")) != two.read_bytes(
        two.landing_file("events", day, "jsonl")
    )


def test_a_past_and_30_days_at_once_equal_10_then_20(tmp_path):
    at_once, in_parts = make_warehouse(tmp_path / "a"), make_warehouse(tmp_path / "b")
    # Churn and planted pairs live in the state: customers churn in both parts, pairs are bought in both.
    options = {**SMALL, "events_per_day": 1000, "dirty_rate": 0.05, "history_months": 3}
    generate(at_once, 30, progress=False, **options)
    generate(in_parts, 10, progress=False, **options)
    generate(in_parts, 20, progress=False)

    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert [name for name in a if a[name] != b[name]] == []
    churn_days = sorted(
        name[-16:-8]
        for name in a
        if "truth/churned_customers/" in name and pq.read_metadata(tmp_path / "a" / name).num_rows
    )
    assert churn_days[0] == "20251231" and any(d <= "20260110" for d in churn_days[1:]) and churn_days[-1] > "20260110"
    assert [name for name in a if "truth/planted_pairs/" in name] == [
        "landing/_generator/truth/planted_pairs/20251231.parquet"
    ]

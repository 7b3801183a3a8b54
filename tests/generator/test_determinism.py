"""The same seed and options give the same bytes, however the days are split into runs."""

from __future__ import annotations

from pathlib import Path

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

"""The fault suite: a run crashed after any one of its table writes, then run again, ends as a run never disturbed.

The undisturbed run of a small dirty shop is made once, and the warehouse is copied after each of its commits: the
copy after commit k is what a run killed right after its k-th write leaves behind (nothing after that commit lands,
no step after it starts). The steps run one at a time, so each commit is a moment a crash can really happen.

For each crash point the copy is put back where the run wrote, the next run goes over it as a user's would, and then:
- every table holds the rows of the undisturbed run, none lost, none twice (the columns that say when a row was
  written aside);
- the run audit adds up from `ops.run_audit` alone: landing = bronze + quarantine + duplicates, bronze = silver +
  quarantine + duplicates, and each count is what the generator says it delivered.

CI tries every `LAKEHOUSE_FAULT_STRIDE`-th commit (4 by default, starting with the first and ending with the last);
`LAKEHOUSE_FAULT_STRIDE=1 pytest tests/test_faults.py -s` tries them all and prints the figures docs/operations.md
gives.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from deltalake import DeltaTable

from generator import generate
from lakehouse.pipeline import SPARK_LAYERS, runner
from lakehouse.pipeline.context import RunContext
from lakehouse.settings import Settings
from lakehouse.tables import Tables
from lakehouse.warehouse import Warehouse
from tests.accounting import check_audit, check_bronze, check_silver, normalized

pytestmark = pytest.mark.e2e

SHOP = {"customers": 60, "products": 12, "events_per_day": 100, "dirty_rate": 0.02, "seed": 5}
STRIDE = int(os.environ.get("LAKEHOUSE_FAULT_STRIDE", "4"))
# Columns that say when a row was written, and by which run or batch: a run after a crash writes later, and the
# files the crashed run had not claimed go to its own batch.
WHEN_WRITTEN = {"_ingested_at", "quarantined_at", "recorded_at", "run_id", "_batch_id", "batch_id"}
# The run audit has one row per run and step; that it adds up is checked instead.
AUDIT = "ops.run_audit"


@dataclass
class Sweep:
    """The undisturbed run: its warehouse's place, the table of each of its commits, and copies of the warehouse."""

    root: Path
    writes: list[str]
    after: list[Path]  # after[k - 1]: the warehouse right after commit k
    undisturbed: Path

    def points(self, stride: int) -> list[int]:
        """Return the crash points tried: every `stride`-th commit, the first and the last always among them."""
        count = len(self.writes)
        return sorted({*range(1, count + 1, stride), count})


def _copy_after_each_commit(tables: Tables, root: Path, writes: list[str], after: list[Path]) -> None:
    """Make `tables`' engine copy the warehouse at `root` after each commit it makes (skipped writes commit nothing)."""
    engine = tables.engine
    for name in ("write", "merge"):
        write = getattr(engine, name)

        def copying(spec, uri, *args, _write=write, **kwargs):
            result = _write(spec, uri, *args, **kwargs)
            if not result.skipped:
                writes.append(spec.name)
                after.append(root.parent / f"after-{len(writes):03d}")
                shutil.copytree(root, after[-1])
            return result

        setattr(engine, name, copying)


@pytest.fixture(scope="module")
def sweep(spark, tmp_path_factory) -> Sweep:
    base = tmp_path_factory.mktemp("faults")
    root = base / "warehouse"
    warehouse = Warehouse(Settings(warehouse=str(root)))
    generate(warehouse, 2, progress=False, **SHOP)
    tables = Tables(warehouse, spark)
    writes: list[str] = []
    after: list[Path] = []
    _copy_after_each_commit(tables, root, writes, after)
    results = runner.run(RunContext(tables), SPARK_LAYERS, parallelism=1)
    assert all(r.status == "ok" for r in results), [(r.step, r.error) for r in results if r.error]
    shutil.copytree(root, base / "undisturbed")
    return Sweep(root, writes, after, base / "undisturbed")


def _table(root: Path, name: str) -> dict[str, list]:
    """Return the table's columns, without those that say when (and by which run or batch) a row was written."""
    table = DeltaTable(Warehouse(Settings(warehouse=str(root))).table_uri(name)).to_pyarrow_table()
    return {
        c: [normalized(v) for v in table.column(c).to_pylist()] for c in table.column_names if c not in WHEN_WRITTEN
    }


def _compare(sweep: Sweep, names: list[str]) -> tuple[int, int, list[str]]:
    """Return rows lost, rows doubled, and a line per table that differs, the warehouse against the undisturbed."""
    lost = doubled = 0
    differences = []
    for name in names:
        expected, found = _table(sweep.undisturbed, name), _table(sweep.root, name)
        rows_expected = Counter(zip(*expected.values(), strict=True))
        rows_found = Counter(zip(*found.values(), strict=True))
        missing, extra = rows_expected - rows_found, rows_found - rows_expected
        lost, doubled = lost + sum(missing.values()), doubled + sum(extra.values())
        if missing or extra or expected.keys() != found.keys():
            columns = [c for c in expected if Counter(expected[c]) != Counter(found.get(c, []))]
            differences.append(
                f"{name}: {sum(missing.values())} rows lost, {sum(extra.values())} extra; columns differing: {columns}"
            )
    return lost, doubled, differences


def test_a_run_crashed_after_any_of_its_writes_ends_on_the_next_run_as_if_undisturbed(sweep, spark):
    names = sorted(Warehouse(Settings(warehouse=str(sweep.undisturbed))).tables())
    compared = [name for name in names if name != AUDIT]
    assert len(sweep.writes) > 30 and len(compared) >= 20, (sweep.writes, compared)
    points = sweep.points(STRIDE)
    failures, lost, doubled = [], 0, 0
    for k in points:
        shutil.rmtree(sweep.root)
        shutil.copytree(sweep.after[k - 1], sweep.root)
        warehouse = Warehouse(Settings(warehouse=str(sweep.root)))
        tables = Tables(warehouse, spark)
        where = f"crashed after write {k} of {len(sweep.writes)} ({sweep.writes[k - 1]})"
        results = runner.run(RunContext(tables), SPARK_LAYERS)  # steps side by side, as a user's run goes
        assert all(r.status in ("ok", "skipped") for r in results), (where, [(r.step, r.error) for r in results])
        assert sorted(warehouse.tables()) == names, where
        missing, extra, differences = _compare(sweep, compared)
        lost, doubled = lost + missing, doubled + extra
        failures += [f"{where}: {line}" for line in differences]
        try:
            check_bronze(warehouse, tables)
            check_silver(warehouse, tables)
            check_audit(tables)
        except AssertionError as exc:
            failures.append(f"{where}: the audit does not add up: {exc}")
    print(
        f"\nfault suite: {len(points)} crash points of {len(sweep.writes)} writes tried, "
        f"{len(compared)} tables compared at each ({len(points) * len(compared)} in all); "
        f"rows lost {lost}, rows doubled {doubled}"
    )
    assert not failures, "\n".join(failures)

"""The crash sweep, shared by the embedded fault suite and the stack's: a run crashed after any one of its table writes,
then run again, must end as a run never disturbed.

The undisturbed run of a small dirty shop is made once, one step at a time, and its warehouse is copied after each of
its commits (on local disk or on S3 alike, through the warehouse's own file system): the copy after commit k is what
a run killed right after its k-th write leaves behind, since nothing after that commit lands and no step after it
starts. For each crash point tried, the copy is put back where the run wrote, the next run goes over it as a user's
would, and then:
- every table holds the rows of the undisturbed run, none lost, none twice (the columns that say when a row was
  written aside);
- the run audit adds up from `ops.run_audit` alone: landing = bronze + quarantine + duplicates, bronze = silver +
  quarantine + duplicates, and each count is what the generator says it delivered.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass

import pyarrow.fs as pafs
from deltalake import DeltaTable

from generator import generate
from lakehouse.pipeline import SPARK_LAYERS, runner
from lakehouse.pipeline.context import RunContext
from lakehouse.settings import Settings
from lakehouse.tables import Tables
from lakehouse.warehouse import Warehouse
from tests.accounting import check_audit, check_bronze, check_silver, normalized

SHOP = {"customers": 60, "products": 12, "events_per_day": 100, "dirty_rate": 0.02, "seed": 5}
# Columns that say when a row was written, and by which run or batch: a run after a crash writes later, and the
# files the crashed run had not claimed go to its own batch.
WHEN_WRITTEN = {"_ingested_at", "quarantined_at", "recorded_at", "run_id", "_batch_id", "batch_id"}
# The run audit has one row per run and step; that it adds up is checked instead.
AUDIT = "ops.run_audit"
LANDING = "landing"


@dataclass(frozen=True)
class Copies:
    """Copies of what a run writes in the warehouse at `settings.warehouse`, each beside it (`<warehouse>-<name>`),
    local or on S3. The landing zone is left where it is: a run only reads it, and a copied file would be a file
    modified since the ledger saw it."""

    settings: Settings

    def of(self, name: str) -> Settings:
        return dataclasses.replace(self.settings, warehouse=f"{self.settings.warehouse}-{name}")

    def save(self, name: str) -> None:
        _copy(Warehouse(self.settings), Warehouse(self.of(name)))

    def restore(self, name: str) -> None:
        """Make the warehouse exactly the copy `name`: what the run wrote after it is gone."""
        warehouse = Warehouse(self.settings)
        fs = warehouse.fs
        for info in fs.get_file_info(pafs.FileSelector(warehouse.fs_path(warehouse.root))):
            if info.type == pafs.FileType.Directory and info.base_name != LANDING:
                fs.delete_dir(info.path)
            elif info.type == pafs.FileType.File:
                fs.delete_file(info.path)
        _copy(Warehouse(self.of(name)), warehouse)


def _copy(source: Warehouse, target: Warehouse) -> None:
    """Copy every file under `source`'s root but the landing zone to the same place under `target`'s (server-side on
    S3)."""
    fs, root, into = source.fs, source.fs_path(source.root), target.fs_path(target.root)
    made: set[str] = set()
    for info in fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True)):
        if info.type == pafs.FileType.File and not info.path.startswith(f"{root}/{LANDING}/"):
            path = f"{into}{info.path[len(root) :]}"
            folder = path.rsplit("/", 1)[0]
            if folder not in made:
                fs.create_dir(folder, recursive=True)
                made.add(folder)
            fs.copy_file(info.path, path)


@dataclass
class Sweep:
    """The undisturbed run: the table of each of its commits, the crash points tried, and copies of the warehouse."""

    copies: Copies
    writes: list[str]  # the table of each commit, in order
    points: list[int]  # the crash points tried: the copy `after-{k:03d}` is the warehouse right after commit k

    def copy_after(self, k: int) -> str:
        # Nothing is written after the last commit: the warehouse then is the undisturbed run's.
        return "undisturbed" if k == len(self.writes) else f"after-{k:03d}"


def record(spark, settings: Settings, stride: int) -> Sweep:
    """Land two days of the small dirty shop in the empty warehouse of `settings`, run it undisturbed one step at a
    time, and copy the warehouse after every `stride`-th commit from the first (skipped writes commit nothing), and at
    the end. Those and the last commit are the crash points the sweep tries."""
    warehouse = Warehouse(settings)
    generate(warehouse, 2, progress=False, **SHOP)
    tables = Tables(warehouse, spark)
    sweep = Sweep(Copies(settings), [], [])
    engine = tables.engine
    for name in ("write", "merge"):
        write = getattr(engine, name)

        def copying(spec, uri, *args, _write=write, **kwargs):
            result = _write(spec, uri, *args, **kwargs)
            if not result.skipped:
                sweep.writes.append(spec.name)
                if (len(sweep.writes) - 1) % stride == 0:
                    sweep.points.append(len(sweep.writes))
                    sweep.copies.save(f"after-{len(sweep.writes):03d}")
            return result

        setattr(engine, name, copying)
    results = runner.run(RunContext(tables), SPARK_LAYERS, parallelism=1)
    assert all(r.status == "ok" for r in results), [(r.step, r.error) for r in results if r.error]
    sweep.copies.save("undisturbed")
    if sweep.points[-1] != len(sweep.writes):
        sweep.points.append(len(sweep.writes))
    return sweep


def table_columns(settings: Settings, name: str) -> dict[str, list]:
    """Return the table's columns, without those that say when (and by which run or batch) a row was written."""
    uri = Warehouse(settings).table_uri(name)
    table = DeltaTable(uri, storage_options=settings.storage_options()).to_pyarrow_table()
    return {
        c: [normalized(v) for v in table.column(c).to_pylist()] for c in table.column_names if c not in WHEN_WRITTEN
    }


def compare(settings: Settings, undisturbed: dict[str, dict[str, list]]) -> tuple[int, int, list[str]]:
    """Return rows lost, rows doubled, and a line per table that differs, the warehouse of `settings` against the
    undisturbed run's tables."""
    lost = doubled = 0
    differences = []
    for name, expected in undisturbed.items():
        found = table_columns(settings, name)
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


def crash(sweep: Sweep, spark) -> str:
    """Put back the copy after each crash point in turn, run the next run over it (steps side by side, as a user's
    run goes), and compare; fail naming every crash point whose outcome differs. Return the sweep's figures, a line."""
    names = sorted(Warehouse(sweep.copies.of("undisturbed")).tables())
    compared = [name for name in names if name != AUDIT]
    assert len(sweep.writes) > 30 and len(compared) >= 20, (sweep.writes, compared)
    undisturbed = {name: table_columns(sweep.copies.of("undisturbed"), name) for name in compared}
    failures, lost, doubled = [], 0, 0
    for k in sweep.points:
        sweep.copies.restore(sweep.copy_after(k))
        warehouse = Warehouse(sweep.copies.settings)
        tables = Tables(warehouse, spark)
        where = f"crashed after write {k} of {len(sweep.writes)} ({sweep.writes[k - 1]})"
        results = runner.run(RunContext(tables), SPARK_LAYERS)
        assert all(r.status in ("ok", "skipped") for r in results), (where, [(r.step, r.error) for r in results])
        assert sorted(warehouse.tables()) == names, where
        missing, extra, differences = compare(sweep.copies.settings, undisturbed)
        lost, doubled = lost + missing, doubled + extra
        failures += [f"{where}: {line}" for line in differences]
        try:
            check_bronze(warehouse, tables)
            check_silver(warehouse, tables)
            check_audit(tables)
        except AssertionError as exc:
            failures.append(f"{where}: the audit does not add up: {exc}")
    assert not failures, "\n".join(failures)
    return (
        f"{len(sweep.points)} crash points of {len(sweep.writes)} writes tried, {len(compared)} tables compared at "
        f"each ({len(sweep.points) * len(compared)} in all); rows lost {lost}, rows doubled {doubled}"
    )

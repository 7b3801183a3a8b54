"""A backlog larger than a pass (`LAKEHOUSE_PASS_MAX_MB`) is taken a few whole landing days at a time: how the
passes are planned, and a run in passes ending with the same tables as one run over everything, its audit adding up."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date, timedelta

import pytest

from generator import generate
from lakehouse.entities import ENTITIES
from lakehouse.pipeline import SPARK_LAYERS, landing, runner
from lakehouse.pipeline.context import RunContext
from lakehouse.report import Listener
from lakehouse.settings import Settings
from lakehouse.tables import Tables
from lakehouse.warehouse import Warehouse
from tests.accounting import check_audit, check_bronze, check_silver
from tests.faults import AUDIT, SHOP, compare, table_columns

DAY = date(2026, 1, 1)


def _days(*sizes: int) -> dict[date, int]:
    return {DAY + timedelta(days=k): size for k, size in enumerate(sizes)}


def test_a_backlog_that_fits_is_one_pass_and_nothing_waiting_is_none():
    assert landing.plan_pass({}, 100) is None
    whole = landing.plan_pass(_days(30, 30, 30), 100)
    assert whole is not None and whole.until is None and whole.bytes == 90 and whole.passes == 1
    unlimited = landing.plan_pass(_days(500, 500), 0)
    assert unlimited is not None and unlimited.until is None


def test_a_backlog_of_three_passes_worth_is_taken_in_even_thirds_not_two_full_passes_and_a_rest():
    sizes = _days(*[10] * 30)  # 300 bytes in passes of at most 120: three passes of 100, not 120 + 120 + 60
    first = landing.plan_pass(sizes, 120)
    assert first is not None and (first.until, first.bytes, first.passes) == (DAY + timedelta(days=9), 100, 3)
    rest = {day: size for day, size in sizes.items() if day > first.until}
    second = landing.plan_pass(rest, 120)
    assert second is not None and (second.first, second.bytes, second.passes) == (DAY + timedelta(days=10), 100, 2)
    assert "days 2026-01-11..2026-01-20 (0.0 MB) of a 0.0 MB backlog, about 2 passes" in second.describe()


def test_a_day_larger_than_a_pass_is_a_pass_of_its_own_and_never_split():
    first = landing.plan_pass(_days(500, 10, 10), 100)
    assert first is not None and (first.until, first.bytes) == (DAY, 500)
    second = landing.plan_pass(_days(10, 500, 10), 100)
    assert second is not None and (second.until, second.bytes) == (DAY, 10)  # the big day waits for a pass of its own


def test_a_pass_limit_must_be_a_size():
    from lakehouse.errors import UserError
    from lakehouse.settings import load_settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKEHOUSE_PASS_MAX_MB", "lots")
        with pytest.raises(UserError, match="LAKEHOUSE_PASS_MAX_MB='lots' is not a size in MB"):
            load_settings(env_file=None)
        mp.setenv("LAKEHOUSE_PASS_MAX_MB", "0.5")
        assert load_settings(env_file=None).pass_max_bytes == 512 * 1024


class _Notes(Listener):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


@pytest.mark.e2e
def test_a_backlog_taken_in_passes_ends_as_one_run_over_it_all_and_its_audit_adds_up(spark, tmp_path):
    """Five days of the small dirty shop, run once in one pass and once (the same files) with passes of about two
    days: the same rows in every table, each pass a run of its own in the audit, the run's results counting all."""
    whole = Settings(warehouse=str(tmp_path / "whole"))
    generate(Warehouse(whole), 5, progress=False, **SHOP)
    at_once = {r.step: r for r in runner.run(RunContext(Tables(Warehouse(whole), spark)), SPARK_LAYERS)}

    landed = sum(f.size for e in ENTITIES for f in Warehouse(whole).landing_listing(e.name))
    in_passes = dataclasses.replace(whole, warehouse=str(tmp_path / "passes"), pass_max_bytes=int(landed * 0.45))
    warehouse = Warehouse(in_passes)
    shutil.copytree(tmp_path / "whole" / "landing", tmp_path / "passes" / "landing")  # modification times too
    tables = Tables(warehouse, spark)
    listener = _Notes()
    results = {r.step: r for r in runner.run(RunContext(tables), SPARK_LAYERS, listener)}

    assert len(listener.notes) == 3 and listener.notes[0].startswith("pass 1: landing days 2026-01-01"), listener.notes
    assert listener.notes[-1].startswith("pass 3:") and "the rest of the backlog" in listener.notes[-1]
    names = sorted(n for n in Warehouse(whole).tables() if n != AUDIT)
    assert sorted(n for n in warehouse.tables() if n != AUDIT) == names
    expected = {name: _moved(table_columns(whole, name), whole.warehouse, in_passes.warehouse) for name in names}
    lost, doubled, differences = compare(in_passes, expected)
    assert (lost, doubled) == (0, 0), differences

    runs = tables.query(AUDIT, "select run_id, batch_to from t where step = 'bronze.events' order by batch_to")
    run_ids = runs.column("run_id").to_pylist()
    assert len(run_ids) == 3 and run_ids[1:] == [f"{run_ids[0]}+2", f"{run_ids[0]}+3"], run_ids
    events = results["bronze.events"]
    assert (events.batch_from, events.batch_to) == (1, 3) and len(events.notes) == 3, events
    counts = ("rows_in", "rows_out", "rows_quarantined", "rows_duplicate")
    for step, result in at_once.items():
        if result.layer in ("bronze", "silver"):  # gold recomputes the days each pass touched
            assert [getattr(results[step], c) for c in counts] == [getattr(result, c) for c in counts], step
    check_bronze(warehouse, tables)
    check_silver(warehouse, tables)
    check_audit(tables)
    assert runner.run(RunContext(tables), SPARK_LAYERS, listener)[0].status == "skipped"
    assert len(listener.notes) == 3  # nothing waits: no pass to plan


def _moved(columns: dict[str, list], old: str, new: str) -> dict[str, list]:
    """Return a table's columns with the paths of files under warehouse `old` as they are under `new`."""
    return {c: [v.replace(old, new) if isinstance(v, str) else v for v in values] for c, values in columns.items()}

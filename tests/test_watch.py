"""`lakehouse run --watch`: one warm session that takes each new landing batch through the layers once it settles."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from generator import generate
from lakehouse.entities import CUSTOMERS, ENTITIES
from lakehouse.pipeline.context import batch_id
from lakehouse.pipeline.watch import Cycle, describe, pending_batches, watch
from lakehouse.settings import Settings
from lakehouse.tables import Tables
from lakehouse.warehouse import Warehouse

pytestmark = pytest.mark.e2e


class _Stop(Exception):
    """Ends a watcher from its sleep, the way Ctrl-C would."""


def test_the_watcher_takes_a_new_day_through_every_layer_once_it_has_settled(shop):
    warehouse, tables, _ = shop
    landed, sleeps = [], []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if not landed:  # a producer delivers a day while the watcher waits
            landed.append(generate(warehouse, 1, progress=False).days[0])

    startup, second = watch(tables, every=0.1, max_runs=2, sleep=sleep)

    assert startup.error is None and not any(r.did_work for r in startup.results)  # nothing new at start-up
    day = batch_id(landed[0])
    assert second.error is None
    assert second.batches == tuple(sorted((e.name, day) for e in ENTITIES))
    # One look saw the day arrive, the next found it unchanged and ran.
    assert sleeps == [0.1, 0.1]
    assert [r.step for r in second.results if r.status != "ok"] == []
    assert {r.batch_to for r in second.results} == {day}
    assert pending_batches(tables) == ()
    assert describe(second).startswith(f"run {second.run_id}: landing {landed[0]:%Y-%m-%d}, ")


def test_a_failed_run_is_reported_and_tried_again_only_when_new_batches_land(spark, tmp_path):
    warehouse = Warehouse(Settings(warehouse=str(tmp_path)))
    tables = Tables(warehouse, spark)
    header = ",".join(CUSTOMERS.fields)
    warehouse.write_bytes(warehouse.landing_file("customers", _date(1), "csv"), f"{header}\n".encode())
    # A bronze table someone made with other columns: every run that writes to it fails, naming it.
    bad = warehouse.table_uri("bronze.customers")
    write_deltalake(bad, pa.table({"id": [1]}))
    cycles: list[Cycle] = []
    sleeps = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:  # the landing zone changes: a good export for the next day
            warehouse.write_bytes(warehouse.landing_file("customers", _date(2), "csv"), f"{header}\n".encode())
        if len(cycles) == 2:
            raise _Stop

    with pytest.raises(_Stop):
        watch(tables, every=0.1, layers=("bronze",), on_cycle=cycles.append, sleep=sleep)

    first, retried = cycles
    assert first.error is not None and bad in first.error and "does not match the data" in first.error
    assert describe(first).startswith(f"run {first.run_id} failed after ")
    # Not retried while nothing changed (three looks), then once the new day had settled (one more look).
    assert len(sleeps) == 5
    assert retried.batches == (("customers", batch_id(_date(1))), ("customers", batch_id(_date(2))))
    assert retried.error is not None and bad in retried.error


def _date(day: int):  # type: ignore[no-untyped-def]
    from datetime import date

    return date(2026, 1, day)

"""`lakehouse run --watch`: one warm session that takes each new landing file through the layers once it settles."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from generator import generate
from lakehouse.entities import CUSTOMERS, ENTITIES
from lakehouse.pipeline.watch import Cycle, describe, pending_files, watch
from lakehouse.settings import Settings
from lakehouse.tables import Tables
from lakehouse.warehouse import Warehouse

pytestmark = pytest.mark.e2e


class _Stop(Exception):
    """Ends a watcher from its sleep, the way Ctrl-C would."""


@pytest.mark.changes_shop
def test_the_watcher_takes_a_new_day_through_every_layer_once_it_has_settled(shop):
    warehouse, tables, _ = shop
    landed, sleeps = [], []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if not landed:  # a producer delivers a day while the watcher waits
            landed.append(generate(warehouse, 1, progress=False).days[0])

    startup, second = watch(tables, every=0.1, max_runs=2, sleep=sleep)

    assert startup.error is None and not any(r.did_work for r in startup.results)  # nothing new at start-up
    batch = max(tables.watermark(f"bronze.{e.name}", f"bronze.{e.name}") or 0 for e in ENTITIES)
    assert second.error is None
    files = {e.name: warehouse.landing_files(e.name, landed[0]) for e in ENTITIES}
    assert [(feed, uri) for feed, uri, _, _ in second.files] == sorted((f, u) for f, us in files.items() for u in us)
    # One look saw the day arrive, the next found it unchanged and ran.
    assert sleeps == [0.1, 0.1]
    assert [r.step for r in second.results if r.status != "ok"] == []
    assert {r.batch_to for r in second.results if r.step.startswith("bronze.")} == {batch}
    assert pending_files(tables) == ()
    assert describe(second).startswith(f"run {second.run_id}: {len(second.files)} landing files, ")


def test_a_failed_run_is_reported_and_tried_again_only_when_new_files_land(spark, tmp_path):
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
    landed = [warehouse.landing_file("customers", _date(d), "csv") for d in (1, 2)]
    assert [(feed, uri) for feed, uri, _, _ in retried.files] == [("customers", uri) for uri in landed]
    assert retried.error is not None and bad in retried.error


def _date(day: int):  # type: ignore[no-untyped-def]
    from datetime import date

    return date(2026, 1, day)

"""Exactly once per landing file, on real files and real Delta tables: a late day folder and a late file are taken
by the next run (and recomputed downstream), a file delivered twice is ingested once, a changed file is quarantined
as a conflict, an old warehouse's files are adopted, and a run stopped between the ledger and bronze loses nothing.
The audit adds up in each case."""

from __future__ import annotations

import logging
import shutil
from datetime import date

import pyarrow as pa
import pytest
from click.testing import CliRunner

from generator import generate
from lakehouse.cli import cli
from lakehouse.entities import ENTITIES, ORDERS
from lakehouse.errors import PipelineError
from lakehouse.pipeline import landing, runner
from lakehouse.pipeline.context import RunContext
from lakehouse.settings import Settings
from lakehouse.tables import Commit, Tables, TableSpec
from lakehouse.warehouse import Warehouse
from tests.accounting import check_audit, check_bronze, check_silver, versions

pytestmark = pytest.mark.e2e

DAY1, DAY2 = date(2026, 1, 1), date(2026, 1, 2)


def _shop(spark, folder, engine: str = "delta-rs") -> Tables:
    """Return the tables of a new warehouse in `folder` with two generated days (a few malformed lines in them)."""
    warehouse = Warehouse(Settings(warehouse=str(folder), delta_engine=engine))
    generate(warehouse, 2, progress=False, customers=60, products=12, events_per_day=200, dirty_rate=0.05, seed=5)
    return Tables(warehouse, spark)


@pytest.fixture
def tables(spark, tmp_path):
    return _shop(spark, tmp_path / "wh")


def _run(tables: Tables, layers=("bronze",)) -> dict:
    """Run `layers`; return the steps that did work."""
    return {r.step: r for r in runner.run(RunContext(tables), layers=layers) if r.did_work}


def _ledger(tables: Tables, feed: str) -> dict[str, dict]:
    return {r["path"]: r for r in landing.recorded(tables, feed)}


def _batch(tables: Tables, feed: str) -> int:
    return tables.watermark(f"bronze.{feed}", f"bronze.{feed}") or 0


def _waiting(tables: Tables) -> dict[str, int]:
    tables.refresh()
    return {e.name: len(landing.waiting(tables, e)) for e in ENTITIES if landing.waiting(tables, e)}


def _status_waiting(warehouse: Warehouse, monkeypatch) -> dict[str, str]:
    """Return the files `lakehouse status` shows waiting, per feed."""
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", warehouse.root)
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 0 and "Landing files" in result.output, result.output
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in result.output.splitlines() if "│" in line]
    return {row[0]: row[-1] for row in cells if row and row[0] in {e.name for e in ENTITIES}}


def test_a_late_day_folder_is_taken_by_the_next_run_and_its_days_recomputed_downstream(tables, tmp_path, monkeypatch):
    warehouse = tables.warehouse
    late = warehouse.landing_dir("events", DAY2)
    shutil.move(late, tmp_path / "held back")
    _run(tables, ("bronze", "silver", "gold"))
    metrics = "select sum(product_views) as views from t where metric_date = date '2026-01-02'"
    assert tables.query("gold.daily_product_metrics", metrics).column(0)[0].as_py() in (None, 0)
    before = _batch(tables, "events")

    shutil.move(tmp_path / "held back", late)  # the day folder lands after the next day was ingested
    assert _waiting(tables) == {"events": 1}
    assert _status_waiting(warehouse, monkeypatch) == {e.name: "1" if e.name == "events" else "0" for e in ENTITIES}
    results = _run(tables, ("bronze", "silver", "gold"))

    assert results["bronze.events"].batch_to > before and _waiting(tables) == {}
    assert set(_status_waiting(warehouse, monkeypatch).values()) == {"0"}
    assert _ledger(tables, "events")[warehouse.landing_file("events", DAY2, "jsonl")]["batch_id"] > before
    arrived = tables.read("silver.events").where("arrived_date = '2026-01-02'").count()
    assert arrived > 0
    assert tables.query("gold.daily_product_metrics", metrics).column(0)[0].as_py() > 0
    sessions = "select count(*) from t where session_date = date '2026-01-02'"
    assert tables.query("gold.sessions", sessions).column(0)[0].as_py() > 0
    check_bronze(warehouse, tables)
    check_silver(warehouse, tables)
    check_audit(tables)


def test_a_late_file_in_a_day_already_ingested_is_taken_by_the_next_run(tables):
    warehouse = tables.warehouse
    _run(tables)
    original = warehouse.read_bytes(warehouse.landing_file("events", DAY1, "jsonl")).splitlines()
    late = f"{warehouse.landing_dir('events', DAY1)}/events_resend_part2.jsonl"
    warehouse.write_bytes(late, b"\n".join(original[-3:]) + b"\n")
    assert _waiting(tables) == {"events": 1}

    results = _run(tables)

    assert results["bronze.events"].rows_in == 3 and set(results) == {"bronze.events"}
    assert _ledger(tables, "events")[late]["status"] == landing.INGESTED
    bronze = tables.read("bronze.events").where(f"_source_file = '{late}'").count()
    quarantined = tables.read("bronze.quarantine").where(f"_source_file = '{late}'").count()
    assert bronze + quarantined == 3
    assert _waiting(tables) == {}
    check_bronze(warehouse, tables, as_generated=False)
    check_audit(tables)


def test_the_same_file_delivered_twice_under_another_name_is_ingested_once(tables):
    warehouse = tables.warehouse
    layers = ("bronze", "silver", "gold")
    _run(tables, layers)
    first = warehouse.landing_file("orders", DAY1, "jsonl")
    again = f"{warehouse.landing_dir('orders', DAY2)}/orders_20260101_resent.jsonl"
    warehouse.write_bytes(again, warehouse.read_bytes(first))
    bronze_before = tables.read("bronze.orders").count()

    results = _run(tables, layers)  # a batch of no new rows goes through silver and gold

    entry = _ledger(tables, "orders")[again]
    assert entry["status"] == landing.DUPLICATE and first in entry["reason"]
    assert results["bronze.orders"].rows_duplicate == entry["records"] > 0
    assert tables.read("bronze.orders").count() == bronze_before
    assert all(r.status == "ok" for r in results.values()), results
    check_bronze(warehouse, tables)
    check_audit(tables)


def test_a_changed_file_at_an_ingested_path_is_quarantined_as_a_conflict(tables, caplog):
    warehouse = tables.warehouse
    _run(tables)
    path = warehouse.landing_file("events", DAY1, "jsonl")
    changed = warehouse.read_bytes(path).splitlines()[:-1]
    warehouse.write_bytes(path, b"\n".join(changed) + b"\n")  # the producer re-exported the day, one event fewer
    bronze_before = tables.read("bronze.events").count()

    with caplog.at_level(logging.WARNING):
        results = _run(tables)

    warned = [r.getMessage() for r in caplog.records if path in r.getMessage()]
    assert warned and "changed after it was ingested" in warned[0] and "under a new file name" in warned[0]
    assert results["bronze.events"].rows_quarantined == len(changed)
    row = tables.read("bronze.quarantine").where(f"_source_file = '{path}' and reason like 'changed after%'").first()
    assert row is not None and row.records == len(changed)
    assert tables.read("bronze.events").count() == bronze_before  # what bronze read before stays
    statuses = sorted(r["status"] for r in landing.recorded(tables, "events") if r["path"] == path)
    assert statuses == [landing.CONFLICT, landing.INGESTED]
    assert _waiting(tables) == {} and set(_run(tables)) == set()  # set aside once, not at every run
    _ledger_adds_up(tables, "events")
    check_audit(tables)


def _ledger_adds_up(tables: Tables, feed: str) -> None:
    """Assert that the records of the files the ledger took are in bronze, its quarantine or the duplicates."""
    taken = sum(r["records"] for r in landing.recorded(tables, feed) if r["status"] != landing.UNCHANGED)
    audit = tables.read("ops.run_audit").where(f"step = 'bronze.{feed}' and status = 'ok'")
    assert taken == sum(r.rows_in for r in audit.collect())


def test_a_warehouse_made_before_the_ledger_adopts_its_files_without_reading_them_again(tables):
    warehouse = tables.warehouse
    _run(tables)
    shutil.rmtree(warehouse.table_uri(landing.LEDGER.name))  # as a warehouse from before the ledger was
    tables.refresh()
    bronze_before = {e.name: tables.version(f"bronze.{e.name}") for e in ENTITIES}
    assert _waiting(tables) == {}

    results = _run(tables)

    assert results == {}
    assert {e.name: tables.version(f"bronze.{e.name}") for e in ENTITIES} == bronze_before
    ledger = _ledger(tables, "events")
    assert {r["reason"] for r in ledger.values()} == {landing.ADOPTED} and len(ledger) == 2
    generate(warehouse, 1, progress=False)
    _run(tables)
    check_bronze(warehouse, tables)
    check_audit(tables)


def _stopped_before_writing_bronze_orders(tables: Tables, monkeypatch) -> None:
    """Run bronze, stopping it where bronze.orders would be appended to (its ledger rows and quarantine are in)."""
    append = Tables.append

    def stop(self, spec, *args, **kwargs):
        if spec.name == f"bronze.{ORDERS.name}":
            raise RuntimeError("stopped")
        return append(self, spec, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(Tables, "append", stop)
        with pytest.raises(PipelineError):
            _run(tables)


@pytest.mark.parametrize("engine", ["delta-rs", "delta-spark"])
def test_a_run_stopped_between_the_ledger_and_bronze_loses_and_doubles_nothing(spark, tmp_path, monkeypatch, engine):
    tables = _shop(spark, tmp_path / "wh", engine)
    warehouse = tables.warehouse
    _stopped_before_writing_bronze_orders(tables, monkeypatch)
    assert _ledger(tables, "orders") and not tables.exists("bronze.orders")
    assert _waiting(tables)["orders"] == 2  # claimed, not in bronze: waiting all the same
    generate(warehouse, 1, progress=False)
    _stopped_before_writing_bronze_orders(tables, monkeypatch)  # stopped again, with the next day claimed too
    claimed = _ledger(tables, "orders")
    assert sorted({r["batch_id"] for r in claimed.values()}) == [1, 2] and _waiting(tables)["orders"] == 3

    results = _run(tables)

    assert (results["bronze.orders"].batch_from, results["bronze.orders"].batch_to) == (1, 2)
    assert _ledger(tables, "orders") == claimed  # claimed once, not again
    check_bronze(warehouse, tables)  # the quarantine committed before the stop is not doubled
    check_audit(tables)
    before = versions(tables)
    assert _run(tables) == {} and _waiting(tables) == {}
    assert versions(tables) == before


def test_a_step_caught_up_with_its_feed_counts_as_having_the_latest_batch(tmp_path):
    """Only inventory received batch 2: events' steps that did all of batch 1 have everything up to 2; a step behind
    its input, or a feed with files claimed above its bronze table, holds the others back."""
    tables = Tables(Warehouse(Settings(warehouse=str(tmp_path))))

    def mark(table: str, app: str, batch: int) -> None:
        tables.append(TableSpec(table, "a batch marker"), pa.table({"x": [1]}), commit=Commit(app, batch))

    for e in ENTITIES:
        mark(f"bronze.{e.name}", f"bronze.{e.name}", 1)
    mark("bronze.inventory", "bronze.inventory", 2)
    mark("silver.events", "silver.events", 1)
    mark("silver.inventory_movements", "silver.inventory", 1)
    mark("gold.sessions", "gold.sessions", 1)
    events, inventory, sessions = (
        ("silver.events", "silver.events"),
        ("silver.inventory_movements", "silver.inventory"),
        ("gold.sessions", "gold.sessions"),
    )
    inputs = {"gold.sessions": (events,)}
    assert landing.available(tables, [events], inputs) == 2
    assert landing.available(tables, [sessions], inputs) == 2  # it has every batch silver.events committed
    assert landing.available(tables, [events, inventory], inputs) == 1  # silver.inventory has not done batch 2 yet

    claim = {"feed": "events", "path": "/x", "batch_id": 3, "status": landing.INGESTED}
    tables.append(landing.LEDGER, pa.Table.from_pylist([claim], landing.SCHEMA))  # events claimed, not in bronze
    assert landing.available(tables, [events], inputs) == 1


def test_days_taken_one_run_at_a_time_across_a_month_end_are_batches_in_sequence_and_the_audit_adds_up(spark, tmp_path):
    """30 and 31 January, then 1 February, each landed and run on its own: a batch is the next number of the
    warehouse's sequence, not a day plus one; each day keeps its real date; every run's audit adds up."""
    warehouse = Warehouse(Settings(warehouse=str(tmp_path / "wh")))
    tables = Tables(warehouse, spark)
    shop = {"customers": 40, "products": 10, "events_per_day": 100, "dirty_rate": 0.05, "seed": 3}
    for k in range(3):
        generate(warehouse, 1, start_date=date(2026, 1, 30), progress=False, **shop)
        did = _run(tables, ("bronze", "silver", "gold"))
        assert did["bronze.events"].batch_from == did["bronze.events"].batch_to == k + 1
    audit = tables.read("ops.run_audit").where("status = 'ok'").collect()
    assert {(r.batch_from or 1, r.batch_to) for r in audit} == {(1, 1), (2, 2), (3, 3)}
    landed = {
        (r["_batch_id"], r["_batch_date"])
        for r in tables.read("bronze.events").select("_batch_id", "_batch_date").distinct().collect()
    }
    assert landed == {(1, date(2026, 1, 30)), (2, date(2026, 1, 31)), (3, date(2026, 2, 1))}
    check_audit(tables)
    check_bronze(warehouse, tables)
    check_silver(warehouse, tables)

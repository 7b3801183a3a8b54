"""The whole pipeline on a small generated shop: exact accounting, idempotent re-runs, one more day alone."""

from __future__ import annotations

import pytest
from deltalake import DeltaTable

from generator import generate
from lakehouse.entities import ENTITIES
from lakehouse.errors import PipelineError
from lakehouse.pipeline import runner
from lakehouse.pipeline.context import RunContext
from lakehouse.tables import Tables
from lakehouse.warehouse import Warehouse
from tests.accounting import check_bronze, check_silver, rows, versions

pytestmark = pytest.mark.e2e


def test_every_landing_record_is_in_bronze_or_its_quarantine(shop):
    warehouse, tables, _ = shop
    check_bronze(warehouse, tables)


def test_every_bronze_row_is_in_silver_its_quarantine_or_counted_as_duplicate(shop):
    warehouse, tables, _ = shop
    # Other tests add days to the shop: the audit's duplicates cover every run so far.
    check_silver(warehouse, tables)


def test_quarantined_records_say_which_rule_they_broke_and_where_they_came_from(shop):
    _, tables, _ = shop
    rows = tables.read("silver.quarantine").collect()
    assert rows
    for row in rows:
        assert row.rule and row.reason and row.record.startswith("{")
        assert row._source_file.endswith((".jsonl", ".csv")) and row._source_line >= 1


def test_late_events_land_on_the_day_they_happened(shop):
    _, tables, _ = shop
    events = tables.read("silver.events")
    late = events.where("arrived_date > event_date")
    assert late.count() > 0, "the generator delivers some events late"
    assert events.where("to_date(event_ts) != event_date").count() == 0


def test_order_status_follows_the_latest_change(shop):
    _, tables, _ = shop
    orders = tables.read("silver.orders")
    assert orders.where("status != 'placed'").count() > 0
    assert orders.where("status = 'delivered' and (delivered_at is null or shipped_at is null)").count() == 0
    items = tables.read("silver.order_items").groupBy().sum("net_amount").first()[0]
    assert orders.groupBy().sum("net_amount").first()[0] == items


def test_gold_covers_every_day_with_events(shop):
    _, tables, _ = shop
    event_days = {r[0] for r in tables.read("silver.events").select("event_date").distinct().collect()}
    session_days = {r[0] for r in tables.read("gold.sessions").select("session_date").distinct().collect()}
    assert session_days == event_days
    assert tables.read("gold.sessions").where("converted").count() > 0
    metrics = tables.read("gold.daily_product_metrics")
    assert metrics.groupBy().sum("units_sold").first()[0] > 0


def test_a_second_run_with_nothing_new_changes_no_table(shop):
    _, tables, _ = shop
    before = versions(tables)
    again = runner.run(RunContext(tables))
    assert all(r.status == "skipped" for r in again)
    assert versions(tables) == before


@pytest.mark.changes_shop
def test_one_more_day_is_processed_alone(shop):
    warehouse, tables, _ = shop
    audit_before = rows(tables, "ops.run_audit")
    new_day = generate(warehouse, 1, progress=False).days[0]
    batch = max(tables.watermark(f"bronze.{e.name}", f"bronze.{e.name}") or 0 for e in ENTITIES) + 1
    results = runner.run(RunContext(tables))
    assert {r.batch_to for r in results} == {batch}  # the next number of the warehouse's batch sequence
    bronze = [r for r in results if r.step.startswith("bronze.")]
    assert all(r.batch_from == batch for r in bronze)
    landing_that_day = sum(
        len(warehouse.read_bytes(u).decode().splitlines()) - (1 if e.format == "csv" else 0)
        for e in ENTITIES
        for u in warehouse.landing_files(e.name, new_day)
    )
    assert sum(r.rows_in for r in bronze) == landing_that_day
    assert rows(tables, "ops.run_audit") == audit_before + len(results)
    # The accounting still holds over all four days.
    test_every_landing_record_is_in_bronze_or_its_quarantine(shop)


@pytest.mark.changes_shop
def test_sessions_built_day_by_day_equal_sessions_built_from_all_events(shop):
    """Incremental sessions (late events rebuild only their visitors' sessions) match a rebuild from scratch."""
    from lakehouse.transforms.gold import sessionize

    warehouse, tables, _ = shop
    generate(warehouse, 1, progress=False)
    runner.run(RunContext(tables))
    audit = tables.read("ops.run_audit").where("step = 'gold.sessions' and status = 'ok'").orderBy("started_at")
    assert "visitors' sessions rebuilt" in audit.collect()[-1].notes
    late = tables.read("silver.events").where("arrived_date > event_date")
    assert late.where(f"_batch_id = {tables.watermark('silver.events', 'silver.events')}").count() > 0

    def by_id(df):
        return {r.session_id: r.asDict() for r in df.collect()}

    incremental = by_id(tables.read("gold.sessions"))
    assert incremental == by_id(tables.read("silver.events").transform(sessionize(30)))


@pytest.mark.changes_shop
def test_product_metrics_built_day_by_day_equal_metrics_built_from_all_data(shop):
    """Days reopened only by status changes keep their traffic as it stood; the result matches a full rebuild."""
    from lakehouse.transforms.gold import daily_product_metrics

    warehouse, tables, _ = shop

    def reopened_by_orders_alone() -> int:
        generate(warehouse, 1, progress=False)
        [result] = [r for r in runner.run(RunContext(tables)) if r.step == "gold.daily_product_metrics"]
        return int(result.notes[0].split(", ")[1].split()[0])

    # Once the shop is a few days old, status changes reopen order days that got no new events.
    assert any(reopened_by_orders_alone() > 0 for _ in range(3))

    def by_key(df):
        return {(r.metric_date, r.product_id): r.asDict() for r in df.collect()}

    items, orders = tables.read("silver.order_items"), tables.read("silver.orders")
    rebuilt = tables.read("silver.events").transform(daily_product_metrics(items, orders))
    assert by_key(tables.read("gold.daily_product_metrics")) == by_key(rebuilt)


@pytest.mark.changes_shop
def test_snapshots_record_day_by_day_changes_as_real_versions(shop):
    from lakehouse import dbt

    warehouse, tables, _ = shop
    # The snapshot must have seen the last day alone: on the shop as made (its first run took three days as one
    # batch) deliver one more day first; after another test's day it is there already.
    if _days_of_the_last_batch(tables) > 1:
        generate(warehouse, 1, progress=False)
        runner.run(RunContext(tables))
    assert _days_of_the_last_batch(tables) == 1
    con = dbt.connect(warehouse)
    try:
        snapshot = con.sql(
            "select customer_id, updated_at, dbt_valid_to is null as is_current from snapshots.snap_customers"
        ).fetchall()
        versions = set(
            con.sql(
                "select customer_id, cast(valid_from at time zone 'UTC' as timestamp) from gold.dim_customers"
            ).fetchall()
        )
        last_day = con.sql("select max(cast(valid_from at time zone 'UTC' as date)) from gold.dim_customers").fetchone()
        changed_last_day = set(
            con.sql(
                "select customer_id, cast(valid_from at time zone 'UTC' as timestamp) from gold.dim_customers "
                "where cast(valid_from at time zone 'UTC' as date) = ?",
                params=[last_day[0]],
            ).fetchall()
        )
    finally:
        con.close()
    assert {(c, u) for c, u, _ in snapshot} <= versions  # the snapshot only ever holds real versions
    assert len({c for c, _, current in snapshot if current}) == len({c for c, _, _ in snapshot})
    # The last day was processed alone, so the snapshot saw each of its changes.
    assert changed_last_day and changed_last_day <= {(c, u) for c, u, _ in snapshot}


def _days_of_the_last_batch(tables: Tables) -> int:
    """Return how many landing days the files the warehouse's last batch ingested came from."""
    files = tables.query("ops.landing_files", "select batch_id, landing_date from t where status = 'ingested'")
    last = max(files.column("batch_id").to_pylist())
    return len({f["landing_date"] for f in files.to_pylist() if f["batch_id"] == last})


def test_bronze_tables_record_where_each_row_came_from(shop):
    warehouse, tables, _ = shop
    table = DeltaTable(warehouse.table_uri("bronze.events"))
    assert [c for c in table.metadata().partition_columns] == ["_batch_date"]
    row = tables.read("bronze.events").first()
    assert row._source_file.startswith(warehouse.root) and row._source_line >= 1
    ledger = tables.query("ops.landing_files", f"select batch_id from t where path = '{row._source_file}'")
    assert ledger.column("batch_id").to_pylist() == [row._batch_id]


def _stopped_before_merging_into(name: str, tables: Tables, monkeypatch) -> None:
    """Run bronze and silver, stopping (as a crash would) where a step is about to merge into table `name`."""
    merge = Tables.merge

    def stop(self, spec, *args, **kwargs):
        if spec.name == name:
            raise RuntimeError("stopped")
        return merge(self, spec, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(Tables, "merge", stop)
        with pytest.raises(PipelineError):
            runner.run(RunContext(tables), layers=("bronze", "silver"))


@pytest.fixture
def small_shop(spark, tmp_path):
    from lakehouse.settings import Settings

    warehouse = Warehouse(Settings(warehouse=str(tmp_path)))
    generate(warehouse, 2, progress=False, customers=60, products=12, events_per_day=100, seed=5)
    return Tables(warehouse, spark)


def test_a_dimension_step_stopped_after_its_history_write_finishes_on_the_next_run(small_shop, monkeypatch):
    """The versions are committed but the current table is not: the next run takes the latest from the history."""
    from lakehouse.transforms.silver import latest_version

    tables = small_shop
    _stopped_before_merging_into("silver.customers", tables, monkeypatch)
    assert tables.exists("silver.customers_history") and not tables.exists("silver.customers")

    results = runner.run(RunContext(tables), layers=("bronze", "silver"))
    assert {r.step: r.status for r in results}["silver.customers"] == "ok"
    history = tables.read("silver.customers_history")
    latest = {r.customer_id: r.updated_at for r in history.transform(latest_version("customer_id")).collect()}
    current = {r.customer_id: r.updated_at for r in tables.read("silver.customers").collect()}
    assert current == latest and len(current) >= 50
    check_silver(tables.warehouse, tables)  # the resumed step counts the committed versions as its own


def test_order_status_stopped_after_its_history_write_finishes_on_the_next_run(small_shop, monkeypatch):
    """The status changes are committed but the orders are not updated: the next run updates them from the history."""
    from lakehouse.transforms.silver import apply_status_history

    tables = small_shop
    runner.run(RunContext(tables), layers=("bronze", "silver"))
    generate(tables.warehouse, 1, progress=False)  # the next day's changes move orders of the days before
    _stopped_before_merging_into("silver.orders", tables, monkeypatch)
    history = tables.read("silver.order_status_history")
    batch = tables.watermark("bronze.order_status", "bronze.order_status")
    assert history.where(f"_batch_id = {batch}").count() > 0

    runner.run(RunContext(tables), layers=("bronze", "silver"))
    orders = tables.read("silver.orders")

    def statuses(df):
        return {r.order_id: (r.status, r.status_ts) for r in df.collect()}

    rebuilt = orders.transform(apply_status_history(tables.read("silver.order_status_history"), batch))
    assert statuses(orders) == statuses(rebuilt)
    assert any(status != "placed" for status, _ in statuses(orders).values())
    check_silver(tables.warehouse, tables)


def test_steps_a_run_committed_but_never_recorded_are_recorded_by_the_next_run(small_shop, monkeypatch):
    """A run stops after its steps' last commits, before the audit row: the next run records those batches from the
    counts each step noted in its last commit, beside its own new day, and the audit adds up."""
    from lakehouse.pipeline import audit

    tables = small_shop
    with monkeypatch.context() as patched:
        patched.setattr(audit, "record", lambda ctx, results: None)  # every audit row lost
        runner.run(RunContext(tables), layers=("bronze", "silver"))
    assert not tables.exists("ops.run_audit")
    generate(tables.warehouse, 1, progress=False, customers=60, products=12, events_per_day=100, seed=5)

    results = {r.step: r for r in runner.run(RunContext(tables), layers=("bronze", "silver"))}
    steps = [r for step, r in results.items() if step.split(".")[0] in ("bronze", "silver")]
    assert all(r.batch_from is None and r.batch_to == 2 for r in steps), steps
    assert all(any("its run stopped before recording it" in n for n in r.notes) for r in steps)
    check_silver(tables.warehouse, tables)
    recorded = tables.read("ops.run_audit").where("layer = 'bronze'").groupBy("step").sum("rows_out").collect()
    assert {r["step"]: r["sum(rows_out)"] for r in recorded} == {
        f"bronze.{e.name}": rows(tables, f"bronze.{e.name}") for e in ENTITIES
    }

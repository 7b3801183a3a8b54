"""The whole pipeline on the stack: delta-spark writing to a real S3 server, every table served by a real Trino."""

from __future__ import annotations

import pytest
from deltalake import DeltaTable

from generator import generate
from lakehouse import dbt
from lakehouse.entities import ENTITIES
from lakehouse.pipeline import runner
from lakehouse.pipeline.context import RunContext
from lakehouse.tables import Tables
from lakehouse.trino import connected
from tests.accounting import RUN_DEPENDENT, check_bronze, check_silver, fingerprint_of, first_difference, versions
from tests.conftest import SHOP_SCALE

pytestmark = [pytest.mark.stack, pytest.mark.e2e]


def test_the_stack_writes_with_delta_spark_and_builds_dbt_on_trino(stack_shop):
    _, tables, results = stack_shop
    assert type(tables.engine).__name__ == "DeltaSparkEngine"
    assert all(r.status == "ok" for r in results), [(r.step, r.error) for r in results if r.error]
    (built,) = [r for r in results if r.step == "dbt.build"]
    assert "on Trino" in built.notes[0] and built.rows_out > 0


def test_every_landing_record_is_accounted_for_on_the_stack(stack_shop):
    warehouse, tables, _ = stack_shop
    check_bronze(warehouse, tables)
    check_silver(warehouse, tables)


def test_trino_serves_every_table_with_the_rows_of_the_embedded_run(stack_shop, stack_settings, embedded_twin):
    warehouse, _, _ = stack_shop
    written = warehouse.tables()
    assert set(written) == set(embedded_twin.names())
    with connected(stack_settings) as trino:
        counts = {name: trino.execute(f"select count(*) from lakehouse.{name}")[0][0] for name in written}
    expected = {name: _count(embedded_twin, name) for name in written}
    assert counts == expected


@pytest.mark.parametrize(("name", "column"), [("silver.orders", "net_amount"), ("gold.sessions", "page_views")])
def test_trino_sums_equal_what_delta_rs_reads(stack_shop, stack_settings, name, column):
    warehouse, _, _ = stack_shop
    with connected(stack_settings) as trino:
        by_trino = trino.execute(f"select sum({column}) from lakehouse.{name}")[0][0]
    table = DeltaTable(warehouse.table_uri(name), storage_options=stack_settings.storage_options())
    values = table.to_pyarrow_table(columns=[column]).column(column).to_pylist()
    assert by_trino == sum(v for v in values if v is not None)


def test_a_second_run_on_the_stack_commits_nothing(stack_shop):
    _, tables, _ = stack_shop
    before = versions(tables)
    again = runner.run(RunContext(tables), runner.LAYERS)
    assert all(r.status == "skipped" for r in again)
    assert versions(tables) == before


def _count(tables: Tables, name: str) -> int:
    return DeltaTable(tables.uri(name)).count()


def test_every_gold_table_on_trino_equals_the_embedded_one_row_for_row(stack_shop, stack_settings, embedded_twin):
    """Same seed, both deployments: each gold table has the same rows (money to the cent, instants to the ms)."""
    gold = sorted(name for name in embedded_twin.names() if name.startswith("gold.") and name not in RUN_DEPENDENT)
    assert len(gold) > 10, gold
    with connected(stack_settings) as trino:
        differences = [_difference(trino, embedded_twin, name) for name in gold]
    assert not [d for d in differences if d], "\n".join(d for d in differences if d)


def _difference(trino, embedded_twin: Tables, name: str) -> str | None:
    """Return how Trino's `name` differs from the embedded run's, or None when they hold the same rows."""
    ours = DeltaTable(embedded_twin.uri(name)).to_pyarrow_table()
    embedded = fingerprint_of(ours)
    answer = trino.query(f"select * from lakehouse.{name}").table
    on_trino = fingerprint_of(answer)
    return first_difference(name, embedded, on_trino)


def test_duckdb_reads_the_stack_tables_as_trino_does(stack_shop, stack_settings):
    """The embedded SQL engine, pointed at the stack's bucket, answers as Trino does."""
    from lakehouse.sql import SqlEngine

    warehouse, _, _ = stack_shop
    engine = SqlEngine(warehouse)
    sql = "select count(*) as n, count(distinct customer_id) as c, sum(net_amount) as s from silver.orders"
    duckdb = engine.query(sql).table.to_pylist()[0]
    with connected(stack_settings) as trino:
        n, c, s = trino.execute(sql)[0]
    assert (duckdb["n"], duckdb["c"], duckdb["s"]) == (n, c, s)


@pytest.mark.adds_a_day
def test_one_more_day_keeps_gold_equal_on_both_deployments(stack_shop, stack_settings, embedded_twin):
    """The next day's build is incremental (delete+insert of what the day touched: DuckDB embedded, Trino's Delta
    connector on the stack) and the two deployments still agree row for row. It adds a day to both, so it runs after
    the tests that read them, and before the tests that change the embedded shop alone (`changes_shop`).

    Trino has forgotten the snapshots first, as it does when its metastore is lost: the run registers them again
    before dbt builds, so they go on from their own history instead of failing on their files. And a gold table's
    files are gone: Trino forgets it and dbt builds it anew."""
    warehouse, tables, _ = stack_shop
    twins = ((warehouse, tables), (embedded_twin.warehouse, embedded_twin))
    # Twins still: the embedded shop holds the stack shop's days, taken in the same batches (a test that changes the
    # embedded shop alone, marked `changes_shop`, runs after this one).
    on_stack, embedded = [(shop.landing_days("events"), _last_batch(run_on)) for shop, run_on in twins]
    assert embedded == on_stack, (embedded, on_stack)
    with connected(stack_settings) as trino:
        for name in ("customers", "products"):
            forget = f"call lakehouse.system.unregister_table(schema_name => 'snapshots', table_name => 'snap_{name}')"
            trino.execute(forget)
    warehouse.fs.delete_dir(warehouse.fs_path(warehouse.table_uri("gold.mart_daily_sales")))
    for shop, run_on in twins:
        batch = _last_batch(run_on) + 1  # the next of the warehouse's batches (the shop as made took its days as 1)
        generate(shop, 1, progress=False, **SHOP_SCALE)
        results = runner.run(RunContext(run_on), runner.LAYERS)
        assert all(r.status == "ok" for r in results), [(r.step, r.error) for r in results if r.error]
        (built,) = [r for r in results if r.step == "dbt.build"]
        assert built.batch_from == built.batch_to == batch, built
        assert ("mart_daily_sales" in built.notes[-1]) == (run_on is tables), built.notes
    gold = sorted(name for name in embedded_twin.names() if name.startswith("gold.") and name not in RUN_DEPENDENT)
    with connected(stack_settings) as trino:
        differences = [_difference(trino, embedded_twin, name) for name in gold]
        history = trino.execute('select operation from lakehouse.gold."fct_orders$history" order by version')
    assert not [d for d in differences if d], "\n".join(d for d in differences if d)
    # dbt's SCD2 snapshots: the day changed some customers and products; both deployments close the same versions.
    sql = "select count(*), count(dbt_valid_to) from {}snapshots.snap_{}"
    with connected(stack_settings) as trino:
        on_trino = {name: tuple(trino.execute(sql.format("lakehouse.", name))[0]) for name in ("customers", "products")}
    con = dbt.connect(embedded_twin.warehouse)
    try:
        on_duckdb = {name: tuple(con.execute(sql.format("", name)).fetchone()) for name in ("customers", "products")}
    finally:
        con.close()
    assert on_trino == on_duckdb
    assert sum(closed for _, closed in on_duckdb.values()) > 0, "the day should have closed some versions"
    # Built once, then delete+insert (Trino records its row-level delete as a MERGE), not a table made anew.
    assert [op for (op,) in history] == ["CREATE TABLE AS SELECT", "MERGE", "WRITE"], history


def _last_batch(tables: Tables) -> int:
    """Return the last batch the warehouse's bronze steps took."""
    return max(tables.watermark(f"bronze.{e.name}", f"bronze.{e.name}") or 0 for e in ENTITIES)

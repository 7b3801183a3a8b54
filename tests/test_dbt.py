"""The dbt project on the embedded target, over the pipeline's Delta tables; and parsed for the Trino target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakehouse import dbt
from lakehouse.errors import UserError

pytestmark = pytest.mark.e2e


def test_dbt_build_passes_over_the_pipeline_output(shop):
    warehouse, tables, _ = shop
    result = dbt.run(warehouse, ["build"])
    assert result.success and result.counts.get("pass", 0) >= 30 and not result.failures
    con = dbt.connect(warehouse)
    try:
        staged = con.sql("select count(*) from staging.stg_orders").fetchone()[0]
    finally:
        con.close()
    assert staged == tables.read("silver.orders").count()


def test_the_project_parses_for_trino_without_a_server(shop):
    warehouse, _, _ = shop
    assert dbt.run(warehouse, ["parse"], target="trino").success
    target = Path(dbt.environment(warehouse, "trino")["DBT_TARGET_PATH"])
    manifest = json.loads((target / "manifest.json").read_text())
    orders = manifest["sources"]["source.lakehouse.silver.orders"]
    assert (orders["database"], orders["schema"], orders["name"]) == ("lakehouse", "silver", "orders")
    assert manifest["nodes"]["model.lakehouse.stg_orders"]["schema"] == "staging"


def test_over_https_dbt_logs_in_to_trino_with_the_pipeline_users_password(shop, monkeypatch, tmp_path):
    """docker-compose's Trino takes passwords over HTTPS: dbt gets the password target, the password and the CA."""
    from dataclasses import replace

    from lakehouse.trino import CA_VARIABLE, password_variable
    from lakehouse.warehouse import Warehouse

    warehouse, _, _ = shop
    compose = Warehouse(replace(warehouse.settings, trino_url="https://trino:8443"))
    monkeypatch.delenv(password_variable("lakehouse"), raising=False)
    with pytest.raises(UserError, match="lakehouse stack init --compose"):
        dbt.environment(compose, "trino")
    monkeypatch.setenv(password_variable("lakehouse"), "a-password")
    monkeypatch.setenv(CA_VARIABLE, str(tmp_path / "ca.crt"))
    env = dbt.environment(compose, "trino")
    login = (env["LAKEHOUSE_DBT_TARGET"], env["TRINO_PORT"], env["TRINO_PASSWORD"])
    assert login == ("trino_password", "8443", "a-password")
    assert dbt.run(compose, ["parse"], target="trino").success  # the profile holds together


def _truth(warehouse, name: str, key: str) -> set[tuple[str, object]]:
    """Return every clean (key, updated_at) version the generator wrote, from its truth files."""
    import pyarrow.parquet as pq

    versions = set()
    for day in warehouse.landing_days("customers"):
        uri = warehouse.generator_dir("truth", name, f"{day:%Y%m%d}.parquet")
        table = pq.read_table(warehouse.fs_path(uri), filesystem=warehouse.fs, columns=[key, "updated_at"])
        versions |= {(row[key], row["updated_at"]) for row in table.to_pylist()}
    return versions


def test_scd2_dimensions_hold_every_real_change_with_its_effective_time(shop):
    from lakehouse.sql import SqlEngine

    warehouse, _, _ = shop
    engine = SqlEngine(warehouse)
    for dimension, truth, key in (
        ("gold.dim_customers", "customer_versions", "customer_id"),
        ("gold.dim_products", "product_versions", "product_id"),
    ):
        rows = engine.query(f"select {key}, valid_from, valid_to, is_current from {dimension}").table.to_pylist()
        expected = _truth(warehouse, truth, key)
        assert {(r[key], r["valid_from"]) for r in rows} == expected, dimension
        assert len(rows) == len(expected), f"{dimension} has versions the generator never wrote"
        if key == "customer_id":  # a few customers change every day, even at this scale
            assert any(n > 1 for n in _count_by(r[key] for r in rows).values())
        assert all((r["valid_to"] is None) == r["is_current"] for r in rows)


def _count_by(values) -> dict:
    counts: dict = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def test_published_models_are_visible_to_sql_as_gold_tables(shop):
    from lakehouse.sql import SqlEngine

    warehouse, tables, _ = shop
    engine = SqlEngine(warehouse)
    orders = engine.query("select count(*) as n, sum(net_amount) as net from gold.fct_orders").table.to_pylist()[0]
    silver = tables.read("silver.orders").groupBy().agg({"net_amount": "sum", "*": "count"}).first()
    assert (orders["n"], orders["net"]) == (silver["count(1)"], silver["sum(net_amount)"])
    unmatched = engine.query("select count(*) as n from gold.fct_orders where customer_key is null").table
    assert unmatched.to_pylist() == [{"n": 0}]


@pytest.mark.parametrize(
    ("fact", "at"), [("fct_orders", "order_ts"), ("fct_sessions", "session_start")], ids=["orders", "sessions"]
)
def test_facts_carry_the_customer_version_valid_when_they_happened(shop, fact, at):
    from lakehouse.sql import SqlEngine

    warehouse, _, _ = shop
    engine = SqlEngine(warehouse)
    versions = engine.query("select customer_key, customer_id, valid_from, valid_to from gold.dim_customers").table
    facts = engine.query(f"select customer_id, customer_key, {at} from gold.{fact} where customer_id is not null")
    by_customer: dict = {}
    for version in versions.to_pylist():
        by_customer.setdefault(version["customer_id"], []).append(version)
    rows = facts.table.to_pylist()
    assert rows, f"{fact} has no rows of known customers"
    for row in rows:
        # Worked out here from the dimension's intervals, half-open and open-ended on the current version.
        valid = [
            v["customer_key"]
            for v in by_customer.get(row["customer_id"], [])
            if v["valid_from"] <= row[at] and (v["valid_to"] is None or row[at] < v["valid_to"])
        ]
        assert row["customer_key"] == (valid[0] if valid else None), (fact, row)
        assert len(valid) <= 1, (fact, row)


def test_only_the_marts_are_published_to_gold(shop):
    warehouse, _, _ = shop
    published = {name.split(".", 1)[1] for name in warehouse.tables() if name.startswith("gold.")}
    marts = set(dbt.gold_models())
    # Beside the two tables Spark writes to gold: every mart, and no staging or intermediate view.
    assert published == marts | {"sessions", "daily_product_metrics"}
    con = dbt.connect(warehouse)
    try:
        views = con.sql("select table_name from information_schema.tables where table_schema = 'intermediate'")
        intermediate = {row[0] for row in views.fetchall()}
    finally:
        con.close()
    assert intermediate == {path.stem for path in (Path(dbt.PROJECT_DIR) / "models" / "intermediate").glob("*.sql")}


def test_marts_add_up_to_the_facts_and_the_funnel_narrows(shop):
    from lakehouse.sql import SqlEngine

    warehouse, tables, _ = shop
    engine = SqlEngine(warehouse)
    sales = engine.query("select sum(net_revenue) as net, sum(valid_orders) as n from gold.mart_daily_sales").table
    silver = (
        tables.read("silver.orders").where("status != 'cancelled'").groupBy().agg({"net_amount": "sum", "*": "count"})
    )
    expected = silver.first()
    assert sales.to_pylist() == [{"net": expected["sum(net_amount)"], "n": expected["count(1)"]}]
    funnel = engine.query(
        "select sessions, product_view_sessions, cart_sessions, checkout_sessions, purchase_sessions "
        "from gold.mart_funnel_daily"
    ).table.to_pylist()
    assert funnel
    for day in funnel:
        steps = list(day.values())
        assert steps == sorted(steps, reverse=True), day
    purchases = sum(day["purchase_sessions"] for day in funnel)
    assert purchases == tables.read("gold.sessions").where("converted").count()


def test_docs_generate_writes_a_catalog_of_the_models(shop):
    warehouse, _, _ = shop
    assert dbt.run(warehouse, ["docs", "generate"]).success
    target = Path(dbt.environment(warehouse)["DBT_TARGET_PATH"])
    catalog = json.loads((target / "catalog.json").read_text())
    assert "model.lakehouse.dim_customers" in catalog["nodes"]
    assert (target / "index.html").stat().st_size > 0


def test_sources_are_fresh_right_after_a_run(shop):
    warehouse, _, _ = shop
    result = dbt.run(warehouse, ["source", "freshness"])
    assert result.counts == {"pass": 12}


def _spark_copy(warehouse, root: Path):
    """Return a copy of the silver, Spark-gold and ops tables under `root`, without dbt's work or what it published."""
    import shutil

    from lakehouse.settings import Settings
    from lakehouse.warehouse import Warehouse

    source = Path(warehouse.root)
    shutil.copytree(source / "silver", root / "silver")
    shutil.copytree(source / "ops", root / "ops")
    for name in ("sessions", "daily_product_metrics"):
        shutil.copytree(source / "gold" / name, root / "gold" / name)
    return Warehouse(Settings(warehouse=str(root)))


def _age_audit(tables, step: str, days: int) -> None:
    """Move the audit's records of `step` `days` back, as if the pipeline had last loaded its table then."""
    from datetime import timedelta

    import pyarrow.compute as pc

    from lakehouse.pipeline import audit

    rows = tables.query("ops.run_audit", "select * from t").cast(audit.SCHEMA)
    chosen = pc.equal(rows["step"], step)
    for column in ("started_at", "finished_at"):
        moved = pc.if_else(chosen, pc.subtract(rows[column], timedelta(days=days)), rows[column])
        rows = rows.set_column(rows.schema.get_field_index(column), column, moved)
    tables.overwrite(audit.RUN_AUDIT, rows)


def test_a_stale_source_fails_the_dbt_step_before_anything_is_built(shop, tmp_path):
    import re

    from lakehouse.errors import PipelineError
    from lakehouse.pipeline import dbt_step, runner
    from lakehouse.pipeline.context import RunContext
    from lakehouse.tables import Tables

    warehouse, _, _ = shop
    stale = _spark_copy(warehouse, tmp_path / "warehouse")
    tables = Tables(stale)
    # Stock movements last loaded 4 days ago (error after 3); sessions 2 days ago, which only warns.
    _age_audit(tables, "silver.inventory", days=4)
    _age_audit(tables, "gold.sessions", days=2)
    before = {name: tables.version(name) for name in tables.names()}

    run = RunContext(tables)
    with pytest.raises(PipelineError) as failure:
        runner.run(run, layers=("dbt",))

    message = str(failure.value)
    assert "step dbt.build failed" in message and "dbt source freshness failed" in message
    assert re.findall(r"(\w+\.\w+): stale", message) == ["silver.inventory_movements"], message
    assert re.search(r"last loaded \S+ \S+ UTC, 4 days 0 hours ago \(error after 3 days\)", message), message
    audited = tables.query("ops.run_audit", f"select step, status, error from t where run_id = '{run.run_id}'")
    [failed] = audited.to_pylist()
    assert (failed["step"], failed["status"]) == ("dbt.build", "failed")
    assert "silver.inventory_movements: stale" in failed["error"]
    # dbt stopped at the freshness check: no model in its database, nothing published, no build recorded.
    con = dbt.connect(stale)
    try:
        built = con.sql(
            "select count(*) from information_schema.tables "
            "where table_schema in ('staging', 'intermediate', 'gold', 'snapshots')"
        ).fetchone()[0]
    finally:
        con.close()
    assert built == 0
    after = {name: tables.version(name) for name in tables.names()}
    assert after == before | {"ops.run_audit": before["ops.run_audit"] + 1}
    assert dbt_step.built_batch(run) == 0


def test_dbt_leaves_its_database_free_for_other_processes(shop):
    import subprocess
    import sys

    warehouse, _, _ = shop
    dbt.run(warehouse, ["build", "--select", "stg_orders"])
    database = dbt.environment(warehouse)["LAKEHOUSE_DBT_DATABASE"]
    # A second `lakehouse run` (or a long-running process) must be able to take the lock after this one's dbt step.
    other = subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({database!r}).close()"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert other.returncode == 0, other.stderr


@pytest.mark.changes_shop
def test_a_gold_table_deleted_made_anew_or_new_to_the_project_is_built_by_the_next_run(shop):
    """What the dbt step published is checked, not assumed: a gold table that is gone, another table in its place,
    or a model the project gained since the last build (a new mart after an upgrade) is built whole by the next run
    even though nothing new landed."""
    import shutil

    from deltalake import DeltaTable, write_deltalake

    from lakehouse.pipeline import runner
    from lakehouse.pipeline.context import RunContext
    from tests.accounting import fingerprint_of, first_difference

    _, tables, _ = shop
    runner.run(RunContext(tables), runner.LAYERS)  # whatever earlier tests left waiting
    gone, replaced, new = "gold.fct_orders", "gold.mart_daily_sales", "gold.mart_sales_geography"
    names = (gone, replaced, new)
    before = {name: fingerprint_of(DeltaTable(tables.uri(name)).to_pyarrow_table()) for name in names}
    shutil.rmtree(tables.uri(gone))
    emptied = DeltaTable(tables.uri(replaced)).to_pyarrow_table().slice(0, 0)
    shutil.rmtree(tables.uri(replaced))
    write_deltalake(tables.uri(replaced), emptied)  # a table of the same shape, made anew, without rows
    shutil.rmtree(tables.uri(new))  # and the last build never knew it: as if the project gained the model since
    marker = Path(tables.warehouse.uri("_lakehouse", "dbt", "built.json"))
    record = json.loads(marker.read_text())
    del record["tables"][new.split(".", 1)[1]]
    marker.write_text(json.dumps(record))
    tables.refresh()

    results = runner.run(RunContext(tables), runner.LAYERS)
    (built,) = [r for r in results if r.step == "dbt.build"]
    assert built.status == "ok", built
    assert "built whole" in built.notes[-1], built.notes
    assert all(name.split(".", 1)[1] in built.notes[-1] for name in names), built.notes
    for name, fingerprint in before.items():
        now = fingerprint_of(DeltaTable(tables.uri(name)).to_pyarrow_table())
        assert first_difference(name, fingerprint, now) is None
    again = runner.run(RunContext(tables), runner.LAYERS)
    assert all(r.status == "skipped" for r in again), [(r.step, r.status) for r in again]

"""The Trino build, checked without a Trino server.

The project is compiled for the trino target, every model's SQL is parsed with sqlglot's Trino dialect, transpiled
to DuckDB and run on the test data; it must give exactly the rows the DuckDB build gave, surrogate keys included, and
those keys must be the ones computed here from their definition. What it cannot check: that Trino itself accepts
every function as sqlglot understands it; the stack tests run the build on a real Trino (tests/stack/).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from lakehouse import dbt, entities
from lakehouse.sql import to_duckdb

pytestmark = pytest.mark.e2e


def _rows(rows: list[tuple]) -> list[tuple]:
    def value(v: object) -> object:
        return round(v, 9) if isinstance(v, float) else v

    def key(row: tuple) -> tuple:
        return tuple((v is None, str(v)) for v in row)

    return sorted((tuple(value(v) for v in row) for row in rows), key=key)


@pytest.fixture(scope="module")
def compiled(shop):
    warehouse, _, _ = shop
    dbt.run(warehouse, ["build"])
    return dbt.compile_for_trino(warehouse)


def test_every_model_compiles_and_parses_as_trino(compiled):
    assert set(compiled) == {path.stem for path in (Path(dbt.PROJECT_DIR) / "models").rglob("*.sql")}
    # Staging and intermediate models are views in schemas of their own; only the gold ones are published.
    folders = Counter(path.parent.name for path in (Path(dbt.PROJECT_DIR) / "models").rglob("*.sql"))
    expected = {"staging": folders["staging"], "intermediate": folders["intermediate"], "gold": folders["marts"]}
    assert Counter(schema for schema, _ in compiled.values()) == expected
    for name, (_, sql) in compiled.items():
        tree = sqlglot.parse_one(sql, read="trino")
        assert isinstance(tree, exp.Query), name
        assert any(t.catalog == "lakehouse" for t in tree.find_all(exp.Table)), f"{name} reads the lakehouse catalog"


def _trino_on_duckdb(warehouse, con) -> Callable[[str], str]:
    """Return a function turning a model's Trino SQL into DuckDB SQL that runs in dbt's database."""
    built = {(s, t) for s, t in con.sql("select table_schema, table_name from information_schema.tables").fetchall()}

    def bind(node: exp.Expression) -> exp.Expression:
        # Relations dbt built are in its DuckDB database (catalog `lakehouse`); sources are Delta tables.
        if isinstance(node, exp.Table) and node.catalog == "lakehouse" and (node.db, node.name) not in built:
            uri = warehouse.table_uri(f"{node.db}.{node.name}")
            scan = sqlglot.parse_one(f"select * from delta_scan('{uri}') as {node.alias_or_name}", read="duckdb")
            return scan.find(exp.From).this
        return node

    return lambda sql: to_duckdb(sqlglot.parse_one(sql, read="trino").transform(bind))


def test_trino_sql_gives_the_rows_of_the_duckdb_build(shop, compiled):
    warehouse, _, _ = shop
    con = dbt.connect(warehouse)
    try:
        as_duckdb = _trino_on_duckdb(warehouse, con)
        compared = 0
        for name, (schema, sql) in compiled.items():
            from_trino = con.sql(as_duckdb(sql)).fetchall()
            from_duckdb = con.sql(f'select * from "{schema}"."{name}"').fetchall()
            assert _rows(from_trino) == _rows(from_duckdb), name
            compared += 1
    finally:
        con.close()
    assert compared == len(compiled)


# Where each surrogate key is computed, and the dimension that publishes it.
KEYS = (
    ("int_customers_versioned", "dim_customers", "customer_id", "customer_key"),
    ("int_products_versioned", "dim_products", "product_id", "product_key"),
)


def _key(business_id: str, valid_from: datetime) -> str:
    """Return a version's surrogate key as the project defines it (md5 of "id|epoch milliseconds"), computed here."""
    millis = (valid_from - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    return hashlib.md5(f"{business_id}|{millis}".encode()).hexdigest()


def test_surrogate_keys_are_the_same_on_both_engines(shop, compiled):
    warehouse, _, _ = shop
    con = dbt.connect(warehouse)
    try:
        as_duckdb = _trino_on_duckdb(warehouse, con)
        for computed_in, published_as, business, key in KEYS:
            columns = f"{business}, valid_from, {key}"
            from_trino = con.sql(f"select {columns} from ({as_duckdb(compiled[computed_in][1])})").fetchall()
            from_duckdb = con.sql(f"select {columns} from gold.{published_as}").fetchall()
            assert from_duckdb and sorted(from_trino) == sorted(from_duckdb), published_as
            # Both equal the key built outside either engine, so neither engine's timestamp text is in it.
            assert all(k == _key(i, v) for i, v, k in from_duckdb), published_as
    finally:
        con.close()
    # In the Trino SQL the version's time reaches the hash only as a number of milliseconds, never cast to text
    # (which Trino would spell '2024-01-02 03:04:05.620 UTC', unlike DuckDB).
    for computed_in, *_ in KEYS:
        tree = sqlglot.parse_one(compiled[computed_in][1], read="trino")
        [digest] = list(tree.find_all(exp.MD5Digest))
        times = [c for c in digest.find_all(exp.Column) if c.name == "updated_at"]
        assert times and all(isinstance(c.find_ancestor(exp.DateDiff, exp.Cast), exp.DateDiff) for c in times)


def test_trino_specific_configuration_is_in_place(compiled):
    project = (Path(dbt.PROJECT_DIR) / "dbt_project.yml").read_text()
    # Delta tables cannot be renamed, so dbt-trino must replace a table in place.
    assert "+on_table_exists: replace" in project
    # Trino's Delta connector writes timestamp(6) or timestamp(3) with time zone; the snapshots' sources hand over
    # timestamp(6), and no model asks for a plain timestamp(3).
    for name in ("stg_customers", "stg_products"):
        assert "as timestamp(6)" in compiled[name][1], name
    for name, (_, sql) in compiled.items():
        assert "as timestamp)" not in sql.lower(), name


def test_the_contract_macros_compile_to_the_contract_s_values(shop, compiled):
    """The accepted_values tests and the order models get their values and columns from the contract
    (lakehouse/entities.py, through dbt_project/macros/contract.sql), as compiled."""
    warehouse, _, _ = shop
    manifest = Path(dbt.environment(warehouse, "trino")["DBT_TARGET_PATH"]) / "manifest.json"
    nodes = json.loads(manifest.read_text())["nodes"].values()
    listed = {}
    for node in nodes:
        if (node.get("test_metadata") or {}).get("name") == "accepted_values":
            model = node["attached_node"].rsplit(".", 1)[-1]
            values = re.search(r"not in \((.*?)\)", node["compiled_code"], re.DOTALL)
            assert values is not None, node["name"]
            listed[(model, node["column_name"])] = re.findall(r"'([^']*)'", values[1])
    lifecycle = [status.name for status in entities.ORDER_LIFECYCLE]
    assert listed[("stg_orders", "status")] == listed[("fct_orders", "status")] == lifecycle
    assert listed[("stg_order_status_history", "status")] == list(entities.ORDER_STATUSES)
    assert listed[("stg_events", "event_type")] == list(entities.EVENT_TYPES)
    assert listed[("stg_inventory_movements", "movement_type")] == list(entities.MOVEMENT_TYPES)
    milestones = ", ".join(entities.MILESTONES.values())
    assert milestones in compiled["stg_orders"][1] and milestones in compiled["fct_orders"][1]
    assert (
        ", ".join(f"orders.{c}" for c in entities.MILESTONES.values())
        in compiled["int_orders_matched_to_customer_versions"][1]
    )

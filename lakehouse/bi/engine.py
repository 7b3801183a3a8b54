"""The semantic layer on the embedded engine: the DuckDB file Superset reads, and the layer's validation.

Superset (in its own environment) opens `<warehouse>/_lakehouse/superset/lakehouse.duckdb` read-only. The file
holds nothing but views, one per Delta table (`gold.fct_orders` → `delta_scan('<warehouse>/gold/fct_orders')`), so
every chart query reads the newest version of each table, the pipeline never opens the file, and the two never
contend for DuckDB's lock. The file is rewritten (to a new file, then renamed over the old one) only when the set of
tables changes.

Validation runs what Superset will run, verbatim and on the same file: every dataset's SQL, every declared and
calculated column and every metric, each also parsed as Trino SQL for the stack.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import sqlglot
from sqlglot.errors import ParseError

from lakehouse import duckdb_extensions
from lakehouse.bi.paths import superset_home
from lakehouse.bi.semantic import Dataset, Layer
from lakehouse.errors import UserError
from lakehouse.sql import create_view
from lakehouse.warehouse import Warehouse

VIEWS_FILE = "lakehouse.duckdb"
# Declared column types and the DuckDB types that satisfy them.
_TYPE_FAMILIES = {
    "DATE": ("DATE",),
    "TIMESTAMP": ("TIMESTAMP",),
    "VARCHAR": ("VARCHAR",),
    "BOOLEAN": ("BOOLEAN",),
    "INTEGER": ("INTEGER", "SMALLINT", "TINYINT", "BIGINT"),
    "BIGINT": ("BIGINT", "INTEGER", "HUGEINT"),
    "DOUBLE": ("DOUBLE", "FLOAT", "DECIMAL"),
    "DECIMAL": ("DECIMAL", "DOUBLE", "BIGINT", "HUGEINT", "INTEGER"),
}


def duckdb_config() -> dict[str, object]:
    """The DuckDB settings a reader of the views file needs: find the delta extension offline, load it on use."""
    return {**duckdb_extensions.config(("delta",)), "autoload_known_extensions": True}


def write_views_database(warehouse: Warehouse) -> Path:
    """Write (or keep) the views file for the warehouse's Delta tables and return its path."""
    home = superset_home(warehouse)
    home.mkdir(parents=True, exist_ok=True)
    target = home / VIEWS_FILE
    tables = [(name, str(Path(warehouse.table_uri(name)).resolve())) for name in warehouse.tables()]
    if not tables:
        raise UserError(f"no Delta tables under {warehouse.root}: run `lakehouse run` first")
    fingerprint = hashlib.sha256(json.dumps([duckdb.__version__, tables]).encode()).hexdigest()
    stamp = home / "views.json"
    if target.exists() and stamp.exists() and json.loads(stamp.read_text()).get("fingerprint") == fingerprint:
        return target
    scratch = home / f".{VIEWS_FILE}.{os.getpid()}"
    scratch.unlink(missing_ok=True)
    con = duckdb.connect(str(scratch), config=duckdb_config())
    try:
        duckdb_extensions.load(con, ("delta",))
        for name, uri in tables:
            schema, table = name.split(".", 1)
            create_view(con, schema, table, uri)
    finally:
        con.close()
    os.replace(scratch, target)
    stamp.write_text(json.dumps({"fingerprint": fingerprint, "tables": [name for name, _ in tables]}, indent=2))
    return target


def connect_views(warehouse: Warehouse) -> duckdb.DuckDBPyConnection:
    """Open the views file read-only, as Superset does."""
    path = write_views_database(warehouse)
    return duckdb.connect(str(path), read_only=True, config=duckdb_config())


@dataclass
class Check:
    dataset: str
    item: str  # "sql", "column x", "metric y"
    ok: bool
    detail: str
    milliseconds: float


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def _trino_parse(sql: str) -> str | None:
    try:
        sqlglot.parse_one(sql, read="trino")
    except ParseError as exc:
        return f"not valid Trino SQL: {_first_line(exc)}"
    return None


def _family_ok(declared: str, actual: str) -> bool:
    family = _TYPE_FAMILIES.get(declared.split("(")[0], (declared,))
    return actual.upper().startswith(family)


def check_dataset(con: duckdb.DuckDBPyConnection, dataset: Dataset) -> list[Check]:
    """Run the dataset's SQL, columns and metrics on `con`; return one Check per item."""
    checks: list[Check] = []

    def run(item: str, sql: str, trino_sql: str | None = None) -> list[tuple] | None:
        clock = time.perf_counter()
        problem = _trino_parse(trino_sql or sql)
        rows = None
        if problem is None:
            try:
                rows = con.execute(sql).fetchall()
            except duckdb.Error as exc:
                problem = f"fails on DuckDB: {_first_line(exc)}"
        elapsed = (time.perf_counter() - clock) * 1000
        checks.append(Check(dataset.name, item, problem is None, problem or "", elapsed))
        return rows

    source = dataset.from_clause()
    described = run("sql", f"describe select * from {source}", f"select * from {source}")
    if described is None:
        return checks
    actual = {row[0]: str(row[1]) for row in described}
    for column in dataset.columns.values():
        if column.expression:
            rows = run(f"column {column.name}", f"select typeof({column.expression}) from {source} limit 1")
            if rows is not None and rows and not _family_ok(column.type, rows[0][0]):
                checks[-1] = Check(
                    dataset.name,
                    f"column {column.name}",
                    False,
                    f"is {rows[0][0]}, declared {column.type}",
                    checks[-1].milliseconds,
                )
            continue
        if column.name not in actual:
            checks.append(
                Check(
                    dataset.name,
                    f"column {column.name}",
                    False,
                    f"not in the dataset (it has {', '.join(actual)})",
                    0.0,
                )
            )
        elif not _family_ok(column.type, actual[column.name]):
            checks.append(
                Check(
                    dataset.name,
                    f"column {column.name}",
                    False,
                    f"is {actual[column.name]}, declared {column.type}",
                    0.0,
                )
            )
        else:
            checks.append(Check(dataset.name, f"column {column.name}", True, actual[column.name], 0.0))
    for metric in dataset.metrics.values():
        if dataset.time_column:
            sql = (
                f"select {dataset.time_column}, {metric.expression} as value from {source} "
                f"group by 1 order by 1 desc limit 1"
            )
        else:
            sql = f"select null, {metric.expression} as value from {source}"
        rows = run(f"metric {metric.name}", sql)
        if rows is not None:
            value = rows[0][1] if rows else None
            if value is None:
                checks[-1] = Check(
                    dataset.name,
                    f"metric {metric.name}",
                    False,
                    "is empty (NULL) on the gold tables",
                    checks[-1].milliseconds,
                )
            else:
                checks[-1].detail = f"{value!r}"
    return checks


def validate(warehouse: Warehouse, layer: Layer) -> list[Check]:
    """Check every dataset of the layer on the embedded engine."""
    con = connect_views(warehouse)
    try:
        return [check for dataset in layer.datasets.values() for check in check_dataset(con, dataset)]
    finally:
        con.close()

"""The semantic layer on its SQL engine: the DuckDB file the embedded Superset reads, and the layer's validation.

Embedded, Superset (in its own environment) opens `<warehouse>/_lakehouse/superset/lakehouse.duckdb` read-only. The
file holds nothing but views, one per Delta table (`gold.fct_orders` → `delta_scan('<warehouse>/gold/fct_orders')`),
so every chart query reads the newest version of each table, the pipeline never opens the file, and the two never
contend for DuckDB's lock. The file is rewritten (to a new file, then renamed over the old one) only when the set of
tables changes. In the stack Superset reads the `lakehouse` catalog of Trino as the user `superset`.

Validation runs what Superset will run, verbatim, where Superset runs it: every dataset's SQL, every declared and
calculated column and every metric, on the views file embedded (each also parsed as Trino SQL for the stack), and on
Trino as `superset` in the stack (so a dataset reading what that user may not read fails there too).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb
import sqlglot
from sqlglot.errors import ParseError

from lakehouse import duckdb_extensions
from lakehouse.bi.semantic import Column, Dataset, Layer, Metric
from lakehouse.errors import UserError
from lakehouse.settings import Settings
from lakehouse.sql import create_view
from lakehouse.warehouse import Warehouse

VIEWS_FILE = "lakehouse.duckdb"
# Who Superset is in the stack's Trino: infra/trino/etc/access-control.json lets it read the gold and ops schemas.
TRINO_USER = "superset"
# Declared column types and the DuckDB and Trino types that satisfy them.
_TYPE_FAMILIES = {
    "DATE": ("DATE",),
    "TIMESTAMP": ("TIMESTAMP",),
    "VARCHAR": ("VARCHAR",),
    "BOOLEAN": ("BOOLEAN",),
    "INTEGER": ("INTEGER", "SMALLINT", "TINYINT", "BIGINT"),
    "BIGINT": ("BIGINT", "INTEGER", "HUGEINT"),
    "DOUBLE": ("DOUBLE", "FLOAT", "REAL", "DECIMAL"),
    "DECIMAL": ("DECIMAL", "DOUBLE", "BIGINT", "HUGEINT", "INTEGER"),
}


def duckdb_config() -> duckdb_extensions.Config:
    """The DuckDB settings a reader of the views file needs: find the delta extension offline, load it on use."""
    return {**duckdb_extensions.config(("delta",)), "autoload_known_extensions": True}


def write_views_database(warehouse: Warehouse) -> Path:
    """Write (or keep) the views file for the warehouse's Delta tables and return its path."""
    if warehouse.is_s3:
        raise UserError("embedded Superset needs a local warehouse; with an s3:// warehouse use the stack's Trino")
    home = warehouse.tool_dir("superset")
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


def require_gold_on_trino(settings: Settings) -> list[str]:
    """Return the gold tables Trino shows Superset's user; raise a UserError naming the cause when there are none."""
    from lakehouse.trino import CATALOG, connected

    with connected(settings, TRINO_USER) as trino:
        rows = trino.execute(
            f"select table_name from {CATALOG}.information_schema.tables where table_schema = 'gold' order by 1"
        )
    if not rows:
        raise UserError(
            f"Trino at {settings.trino_url} shows {TRINO_USER!r} no gold table: run `lakehouse run` on the stack first"
        )
    return [row[0] for row in rows]


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


class QueryFailed(Exception):
    """The engine refused a query; the message is its reason, in one line."""


class Queries(Protocol):
    """What validation asks of an engine: the rows of a query, and the columns (name, type) of a relation."""

    engine: str
    parse_as_trino: bool  # also check that the SQL is Trino's (where the engine is not Trino itself)

    def rows(self, sql: str) -> list[tuple]: ...

    def columns(self, relation: str) -> list[tuple[str, str]]: ...

    def close(self) -> None: ...


class DuckDBQueries:
    """The views file, as Superset opens it embedded."""

    engine = "DuckDB"
    parse_as_trino = True

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def rows(self, sql: str) -> list[tuple]:
        try:
            return self.con.execute(sql).fetchall()
        except duckdb.Error as exc:
            raise QueryFailed(_first_line(exc)) from None

    def columns(self, relation: str) -> list[tuple[str, str]]:
        return [(row[0], str(row[1])) for row in self.rows(f"describe select * from {relation}")]

    def close(self) -> None:
        self.con.close()


class TrinoQueries:
    """The stack's Trino, as the user Superset connects as."""

    engine = "Trino"
    parse_as_trino = False

    def __init__(self, settings: Settings, user: str = TRINO_USER):
        from lakehouse.trino import Trino

        self.client = Trino(settings, user)
        try:
            self.client.execute("select 1")  # an unreachable Trino, or one that refuses the user, stops here
        except UserError:
            self.client.close()
            raise

    def rows(self, sql: str) -> list[tuple]:
        try:
            return self.client.execute(sql)
        except UserError as exc:
            raise QueryFailed(str(exc).removeprefix("Trino: ")) from None

    def columns(self, relation: str) -> list[tuple[str, str]]:
        """Return the relation's columns and their Trino types (also of an empty relation: the left join gives one
        row of typed nulls)."""
        try:
            names = self.client.query(f"select * from {relation} limit 0").table.column_names
        except UserError as exc:
            raise QueryFailed(str(exc).removeprefix("query failed: ")) from None
        types = ", ".join(f'typeof(relation."{name}")' for name in names)
        one_row = f"(values 0) as one (x) left join (select * from {relation} limit 1) as relation on true"
        return list(zip(names, self.rows(f"select {types} from {one_row}")[0], strict=True))

    def close(self) -> None:
        self.client.close()


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


def _stored_column(dataset: Dataset, column: Column, actual: dict[str, str]) -> Check:
    """Return the Check of a column the dataset's SQL returns: there, and of the declared type's family."""
    item = f"column {column.name}"
    if column.name not in actual:
        return Check(dataset.name, item, False, f"not in the dataset (it has {', '.join(actual)})", 0.0)
    if not _family_ok(column.type, actual[column.name]):
        return Check(dataset.name, item, False, f"is {actual[column.name]}, declared {column.type}", 0.0)
    return Check(dataset.name, item, True, actual[column.name], 0.0)


def _metric_sql(dataset: Dataset, metric: Metric, source: str) -> str:
    """Return the query that checks a metric: its latest value by the time column that is not empty (the last day's
    orders have not shipped yet, so its shipping times are), or its one value."""
    if dataset.time_column:
        return (
            f"select {dataset.time_column}, {metric.expression} as value from {source} "
            f"group by 1 having {metric.expression} is not null order by 1 desc limit 1"
        )
    return f"select null, {metric.expression} as value from {source}"


def check_dataset(queries: Queries | duckdb.DuckDBPyConnection, dataset: Dataset) -> list[Check]:
    """Run the dataset's SQL, columns and metrics on `queries` (or on a DuckDB connection to the views file); return
    one Check per item."""
    target = DuckDBQueries(queries) if isinstance(queries, duckdb.DuckDBPyConnection) else queries
    checks: list[Check] = []

    def run(item: str, sql: str, ask: Callable[[str], list] = target.rows, trino_sql: str = "") -> list | None:
        clock = time.perf_counter()
        problem = _trino_parse(trino_sql or sql) if target.parse_as_trino else None
        rows = None
        if problem is None:
            try:
                rows = ask(sql)
            except QueryFailed as exc:
                problem = f"fails on {target.engine}: {exc}"
        elapsed = (time.perf_counter() - clock) * 1000
        checks.append(Check(dataset.name, item, problem is None, problem or "", elapsed))
        return rows

    source = dataset.from_clause()
    described = run("sql", source, target.columns, f"select * from {source}")
    if described is None:
        return checks
    actual = dict(described)
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
        checks.append(_stored_column(dataset, column, actual))
    for metric in dataset.metrics.values():
        rows = run(f"metric {metric.name}", _metric_sql(dataset, metric, source))
        if rows is not None:
            # A metric that runs but is empty everywhere is not wrong: a young shop has delivered nothing yet.
            checks[-1].detail = f"{rows[0][1]!r}" if rows else "empty: nothing it applies to yet"
    return checks


def queries(warehouse: Warehouse) -> Queries:
    """Return where the warehouse's Superset runs its queries: Trino as `superset` in the stack, the views file
    embedded."""
    if warehouse.settings.is_stack:
        return TrinoQueries(warehouse.settings)
    return DuckDBQueries(connect_views(warehouse))


def validate(warehouse: Warehouse, layer: Layer) -> list[Check]:
    """Check every dataset of the layer on the engine the warehouse's Superset reads (see `queries`)."""
    engine = queries(warehouse)
    try:
        return [check for dataset in layer.datasets.values() for check in check_dataset(engine, dataset)]
    finally:
        engine.close()

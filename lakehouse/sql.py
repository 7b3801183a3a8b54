"""The embedded SQL engine: Trino-dialect SQL over the warehouse's Delta tables, answered by DuckDB.

A query is parsed as Trino SQL (sqlglot), every table it names is bound to the Delta table of that name through
DuckDB's delta extension, and the query is run as DuckDB SQL. No JVM is involved, so an answer takes about a second.
Tables are named as in the stack's Trino catalog: `silver.orders`, or fully qualified `lakehouse.silver.orders`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.time import format_time
from sqlglot.trie import new_trie

from lakehouse import duckdb_extensions
from lakehouse.errors import UserError
from lakehouse.warehouse import LAYERS, Warehouse

CATALOG = "lakehouse"


@dataclass
class QueryResult:
    """Rows of a query, with the DuckDB SQL that produced them and the time taken."""

    table: pa.Table
    duckdb_sql: str
    seconds: float


def connect(warehouse: Warehouse) -> duckdb.DuckDBPyConnection:
    """Return an in-memory DuckDB connection that can read the warehouse's Delta tables."""
    names = ("delta", "httpfs") if warehouse.is_s3 else ("delta",)
    con = duckdb.connect(":memory:", config=duckdb_extensions.config(names))
    duckdb_extensions.load(con, names)
    if warehouse.is_s3:
        con.execute(warehouse.settings.s3.duckdb_secret())
    return con


def create_view(con: duckdb.DuckDBPyConnection, schema: str, table: str, uri: str) -> None:
    """Name the Delta table at `uri` as `schema.table` in DuckDB; each query of the view reads the newest version."""
    con.execute(f'create schema if not exists "{schema}"')
    con.execute(f'create or replace view "{schema}"."{table}" as select * from delta_scan(\'{uri}\')')


def referenced_tables(expression: exp.Expression) -> set[tuple[str, str]]:
    """Return the (schema, table) pairs a query reads, leaving out its own CTEs."""
    ctes = {cte.alias_or_name.lower() for cte in expression.find_all(exp.CTE)}
    found = set()
    for table in expression.find_all(exp.Table):
        name = table.name.lower()
        schema = table.db.lower()
        if not schema and name in ctes:
            continue
        if not name:  # table functions and the like
            continue
        found.add((schema, name))
    return found


# Trino's format_datetime() takes Java (Joda) patterns; DuckDB's strftime() takes C ones.
_JAVA_TO_STRFTIME = {
    "yyyy": "%Y",
    "yy": "%y",
    "MMMM": "%B",
    "MMM": "%b",
    "MM": "%m",
    "dd": "%d",
    "d": "%-d",
    "HH": "%H",
    "hh": "%I",
    "mm": "%M",
    "ss": "%S",
    "SSS": "%g",
    "EEEE": "%A",
    "EEE": "%a",
    "a": "%p",
    "ww": "%V",
}
_JAVA_TRIE = new_trie(_JAVA_TO_STRFTIME)


def to_duckdb(statement: exp.Expression) -> str:
    """Return a parsed Trino statement as DuckDB SQL, fixing what sqlglot does not translate by itself."""

    def fix(node: exp.Expression) -> exp.Expression:
        # Trino's format() takes Java-style %s patterns, as DuckDB's printf() does; DuckDB's format() wants {}.
        if isinstance(node, exp.Format):
            return exp.Anonymous(this="printf", expressions=[node.this, *node.expressions])
        if isinstance(node, exp.Anonymous) and node.name.lower() == "format_datetime" and len(node.expressions) == 2:
            value, pattern = node.expressions
            if isinstance(pattern, exp.Literal) and pattern.is_string:
                converted = format_time(pattern.this, _JAVA_TO_STRFTIME, _JAVA_TRIE)
                return exp.Anonymous(this="strftime", expressions=[value, exp.Literal.string(converted)])
        return node

    return statement.transform(fix).sql(dialect="duckdb")


class SqlEngine:
    """Answers Trino-dialect SQL over the warehouse on DuckDB."""

    def __init__(self, warehouse: Warehouse, dialect: str = "trino"):
        self.warehouse = warehouse
        self.dialect = dialect
        self.con = connect(warehouse)
        self._bound: set[str] = set()

    def tables(self) -> list[str]:
        return self.warehouse.tables()

    def _bind(self, schema: str, table: str) -> None:
        name = f"{schema}.{table}"
        if name in self._bound:
            return
        if not schema:
            raise UserError(f"unknown table {table!r}: name tables with their schema, e.g. silver.{table}")
        if schema not in LAYERS:
            raise UserError(
                f"unknown table {name!r}: name tables as <schema>.<table> "
                f"with a schema of {', '.join(LAYERS)} (try `lakehouse status`)"
            )
        uri = self.warehouse.table_uri(name)
        from deltalake import DeltaTable

        if not DeltaTable.is_deltatable(uri, storage_options=self.warehouse.storage_options() or None):
            known = ", ".join(t for t in self.tables() if t.startswith(f"{schema}.")) or "none yet"
            raise UserError(f"unknown table {name}: tables in {schema} are {known}")
        create_view(self.con, schema, table, uri)
        self._bound.add(name)

    def translate(self, sql: str) -> str:
        """Return `sql` (in the engine's dialect) as DuckDB SQL, with every table it reads bound to its Delta table."""
        try:
            statements = [s for s in sqlglot.parse(sql, read=self.dialect) if s is not None]
        except ParseError as exc:
            first = exc.errors[0] if exc.errors else {}
            where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
            raise UserError(f"SQL syntax error{where}: {first.get('description', exc)}") from None
        if len(statements) != 1:
            raise UserError("give exactly one SQL statement")
        statement = statements[0]
        if not isinstance(statement, exp.Query | exp.Describe):
            raise UserError(f"only queries are allowed here, not {statement.key.upper()}")
        for table in statement.find_all(exp.Table):
            if table.catalog and table.catalog.lower() == CATALOG:
                table.set("catalog", None)
        for schema, table in sorted(referenced_tables(statement)):
            self._bind(schema, table)
        return to_duckdb(statement)

    def query(self, sql: str) -> QueryResult:
        """Run one Trino-dialect query and return its rows as Arrow."""
        clock = time.perf_counter()
        duck_sql = self.translate(sql)
        try:
            result = self.con.execute(duck_sql).to_arrow_table()
        except duckdb.Error as exc:
            message = str(exc).strip().splitlines()[0]
            raise UserError(f"query failed: {message}") from None
        return QueryResult(result, duck_sql, time.perf_counter() - clock)

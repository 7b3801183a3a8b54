"""The embedded SQL engine: Trino-dialect SQL over the warehouse's Delta tables, answered by DuckDB as Trino would.

A query is parsed as Trino SQL (sqlglot), every table it names is bound to the Delta table of that name through
DuckDB's delta extension, and the query is run as DuckDB SQL. No JVM is involved, so an answer takes about a second.
Tables are named as in the stack's Trino catalog: `silver.orders`, or fully qualified `lakehouse.silver.orders`.

The answer is Trino's, not DuckDB's: lakehouse/sql_translate.py types the query as Trino does and rewrites what DuckDB
computes differently, the result's columns take their Trino types (lakehouse/sql_types.py), and the catalog commands,
`information_schema`, time travel (`FOR VERSION AS OF`, `FOR TIMESTAMP AS OF`) and the `$history` / `$properties`
tables are answered from the warehouse (lakehouse/sql_catalog.py). What cannot be answered as Trino does is refused
with a one-line UserError naming the construct. docs/sql.md says what is covered.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.time import format_time
from sqlglot.trie import new_trie

from lakehouse import duckdb_extensions, sql_translate
from lakehouse import sql_types as t
from lakehouse.errors import UserError
from lakehouse.sql_catalog import CATALOG, INFORMATION_SCHEMA, Catalog, split_metadata
from lakehouse.sql_translate import REFUSAL, Columns, Translator
from lakehouse.warehouse import Warehouse

# sqlglot warns on stderr when it keeps a statement it cannot parse as a bare command; the engine says so itself.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


@dataclass
class QueryResult:
    """Rows of a query, with the DuckDB SQL that produced them, the time taken and the columns' Trino types."""

    table: pa.Table
    duckdb_sql: str
    seconds: float
    types: list[str] = field(default_factory=list)


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


def to_duckdb(statement: exp.Expr) -> str:
    """Return a parsed Trino statement as DuckDB SQL, fixing what sqlglot does not translate by itself."""

    def fix(node: exp.Expr) -> exp.Expr:
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
    """Answers Trino-dialect SQL over the warehouse on DuckDB, with Trino's answers."""

    def __init__(self, warehouse: Warehouse, dialect: str = "trino"):
        self.warehouse = warehouse
        self.dialect = dialect
        self.con = connect(warehouse)
        # Trino shows the Delta tables' instants in UTC and computes their fields (hour, day, ...) there
        self.con.execute("set TimeZone = 'UTC'")
        sql_translate.install(self.con)
        self.catalog = Catalog(warehouse)

    def tables(self) -> list[str]:
        return self.warehouse.tables()

    def interrupt(self) -> None:
        """Stop the query running on the engine now, from another thread: it raises a UserError saying so.

        DuckDB stops a query between two chunks of work; an interrupt sent while no query runs (the query is still
        being translated) is lost, so a caller that must stop it calls again until the query has ended.
        """
        self.con.interrupt()

    def close(self) -> None:
        """Close the DuckDB connection, ending its threads."""
        self.con.close()

    def _parse(self, sql: str) -> exp.Query:
        try:
            statements = [s for s in sqlglot.parse(sql, read=self.dialect) if s is not None]
        except ParseError as exc:
            first = exc.errors[0] if exc.errors else {}
            where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
            raise UserError(f"SQL syntax error{where}: {first.get('description', exc)}") from None
        if len(statements) != 1:
            raise UserError("give exactly one SQL statement")
        statement = statements[0]
        if not isinstance(statement, exp.Query):
            kind = str(statement.this).split()[0] if isinstance(statement, exp.Command) else statement.key
            raise UserError(f"only queries are allowed here, not {kind.upper()}")
        return statement

    def _bind(self, table: exp.Table) -> Columns:
        """Point a table of the query at the DuckDB relation holding it; return its columns with their Trino types."""
        catalog = table.catalog.lower()
        if catalog and catalog != CATALOG:
            raise UserError(f"unknown catalog {catalog}: the embedded engine has one catalog, {CATALOG}")
        schema, name = table.db.lower(), table.name.lower()
        if not schema:
            raise UserError(f"unknown table {name!r}: name tables with their schema, e.g. silver.{name}")
        alias = table.alias or split_metadata(name)[0] if "$" in name else table.alias or name
        version = self._version(schema, name, table.args.get("version"))
        if schema == INFORMATION_SCHEMA:
            relation = ("lakehouse_information_schema", name)
            self._materialize(relation, self.catalog.information_schema(name).table)
        elif "$" in name:
            relation = (schema, name)
            self._materialize(relation, self.catalog.metadata_table(schema, name).table)
        else:
            relation = (schema, name if version is None else f"{name}@v{version}")
            self._view(relation, schema, name, version)
        columns: Columns = [(c.name, c.type) for c in self.catalog.columns(schema, name, version)]
        table.set("catalog", None)
        table.set("db", exp.to_identifier(relation[0], quoted=True))
        table.set("this", exp.to_identifier(relation[1], quoted=True))
        table.set("version", None)
        if not table.alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
        return columns

    def _version(self, schema: str, name: str, version: exp.Expr | None) -> int | None:
        """Return the Delta version `FOR VERSION AS OF` / `FOR TIMESTAMP AS OF` names (None: the newest)."""
        if version is None:
            return None
        if "$" in name or schema == INFORMATION_SCHEMA:
            raise UserError(f"{schema}.{name} has no versions to travel to")
        value = self._constant(version.expression)
        if str(version.this).upper() == "VERSION":
            if isinstance(value, bool) or not isinstance(value, int):
                raise UserError(f"FOR VERSION AS OF takes a version number, not {value!r}")
            self.catalog.snapshot(schema, name, value)
            return value
        if not isinstance(value, datetime):
            raise UserError(f"FOR TIMESTAMP AS OF takes a timestamp with time zone, not {value!r}")
        return self.catalog.version_at(schema, name, value if value.tzinfo else value.replace(tzinfo=UTC))

    def _constant(self, node: exp.Expr) -> object:
        """Return the value of a constant expression (a time travel's version or instant), computed as Trino does."""
        query = exp.select(node.copy())
        Translator(self._bind).statement(query)
        try:
            return self.con.execute(to_duckdb(query)).fetchone()[0]  # type: ignore[index]  # a select returns a row
        except duckdb.Error as exc:
            raise UserError(f"time travel: {str(exc).strip().splitlines()[0]}") from None

    def _view(self, relation: tuple[str, str], schema: str, name: str, version: int | None) -> None:
        """Make the DuckDB view of a Delta table (at a version) with Trino's values: instants to the millisecond."""
        columns = self.catalog.columns(schema, name, version)
        uri = self.warehouse.table_uri(f"{schema}.{name}")
        selected = ", ".join(
            f"date_trunc('millisecond', {_quoted(c.name)}) as {_quoted(c.name)}"
            if c.type.is_instant
            else _quoted(c.name)
            for c in columns
        )
        scan = f"delta_scan('{uri}'" + (f", version => {version})" if version is not None else ")")
        self.con.execute(f"create schema if not exists {_quoted(relation[0])}")
        self.con.execute(
            f"create or replace view {_quoted(relation[0])}.{_quoted(relation[1])} as select {selected} from {scan}"
        )

    def _materialize(self, relation: tuple[str, str], rows: pa.Table) -> None:
        """Make a DuckDB table of rows the catalog gives (information_schema, a metadata table)."""
        self.con.execute(f"create schema if not exists {_quoted(relation[0])}")
        self.con.register("lakehouse_catalog_rows", rows)
        try:
            self.con.execute(
                f"create or replace table {_quoted(relation[0])}.{_quoted(relation[1])} "
                "as select * from lakehouse_catalog_rows"
            )
        finally:
            self.con.unregister("lakehouse_catalog_rows")

    def translate(self, sql: str) -> str:
        """Return `sql` (in the engine's dialect) as DuckDB SQL, with every table it reads bound to its Delta table."""
        return self._translate(self._parse(sql))[0]

    def _translate(self, statement: exp.Expr) -> tuple[str, Columns]:
        columns = Translator(self._bind).statement(statement)
        return to_duckdb(statement), columns

    def query(self, sql: str) -> QueryResult:
        """Run one Trino-dialect query and return its rows as Arrow, with Trino's column names and types."""
        clock = time.perf_counter()
        self.catalog = Catalog(self.warehouse)  # tables and their versions may have changed since the last query
        command = self.catalog.command(sql)
        if command is not None:
            types = [str(kind) for kind in command.types]
            return QueryResult(command.table, "", time.perf_counter() - clock, types)
        statement = self._parse(sql)
        try:
            duck_sql, columns = self._translate(statement)
        except UserError:
            raise
        except Exception as exc:  # a construct the translator does not expect: refused, never a traceback
            detail = (str(exc).splitlines() or [""])[0]
            raise UserError(
                f"the embedded engine cannot translate this query ({type(exc).__name__}: {detail})"
            ) from exc
        try:
            result = self.con.execute(duck_sql).to_arrow_table()
        except duckdb.InterruptException:
            raise UserError("the query was interrupted") from None
        except duckdb.Error as exc:
            message = str(exc).strip().splitlines()[0]
            if REFUSAL in message:
                raise UserError(message.split(REFUSAL, 1)[1].rstrip("'\"")) from None
            raise UserError(f"query failed: {message}") from None
        table, kinds = _with_trino_types(result, columns)
        return QueryResult(table, duck_sql, time.perf_counter() - clock, [str(kind) for kind in kinds])


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _with_trino_types(result: pa.Table, columns: Columns) -> tuple[pa.Table, list[t.TrinoType]]:
    """Return DuckDB's result with Trino's column names, and its columns' values as those of their Trino types."""
    if len(columns) != result.num_columns:  # a star over a relation the engine could not type
        columns = [(name, None) for name in result.column_names]
    arrays, kinds = [], []
    for (name, kind), column in zip(columns, result.columns, strict=True):
        found = kind or t.from_arrow(column.type)
        if found is None:
            raise UserError(f"column {name!r}: the embedded engine computes it as {column.type}, which Trino lacks")
        try:
            arrays.append(t.convert(column, found))
        except UserError as exc:
            raise UserError(f"column {name!r}: {exc}") from None
        kinds.append(found)
    return pa.Table.from_arrays(arrays, names=[name for name, _ in columns]), kinds

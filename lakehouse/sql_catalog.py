"""The `lakehouse` catalog as Trino shows it, answered from the warehouse for the embedded SQL engine.

Trino's catalog on the stack has the layers' schemas (plus dbt's, see lakehouse/trino.py), one table per Delta table,
and its Delta connector's metadata tables `"<table>$history"` and `"<table>$properties"`. This module gives the same:
the catalog commands (`SHOW SCHEMAS`, `SHOW TABLES`, `SHOW COLUMNS`, `DESCRIBE`, `SHOW CREATE TABLE`), the
`information_schema` tables, each table's columns with their Trino types, and the metadata tables, read from the
Delta logs by the table layer's Spark-free reader (lakehouse/table_log.py). Commands that only Trino can answer
(`EXPLAIN`, `SHOW STATS`, ...) are refused by name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from lakehouse import sql_types as t
from lakehouse.errors import UserError
from lakehouse.sql_types import TrinoType
from lakehouse.table_log import Snapshot, TableLogs
from lakehouse.trino import DBT_SCHEMAS
from lakehouse.warehouse import TABLE_SCHEMAS, Warehouse

CATALOG = "lakehouse"
INFORMATION_SCHEMA = "information_schema"
# Every schema Trino's `lakehouse` catalog has on the stack. dbt's hold its views and snapshots there; embedded,
# they stay in dbt's own DuckDB database, so these schemas are listed and hold no tables.
SCHEMAS = tuple(sorted((INFORMATION_SCHEMA, *TABLE_SCHEMAS, *DBT_SCHEMAS)))
METADATA_TABLES = ("history", "properties")

# Trino 476's information_schema: its tables and their columns (all varchar but ordinal_position).
_INFORMATION_SCHEMA: dict[str, tuple[str, ...]] = {
    "applicable_roles": ("grantee", "grantee_type", "role_name", "is_grantable"),
    "columns": (
        "table_catalog",
        "table_schema",
        "table_name",
        "column_name",
        "ordinal_position",
        "column_default",
        "is_nullable",
        "data_type",
    ),
    "enabled_roles": ("role_name",),
    "roles": ("role_name",),
    "schemata": ("catalog_name", "schema_name"),
    "table_privileges": (
        "grantor",
        "grantor_type",
        "grantee",
        "grantee_type",
        "table_catalog",
        "table_schema",
        "table_name",
        "privilege_type",
        "is_grantable",
        "with_hierarchy",
    ),
    "tables": ("table_catalog", "table_schema", "table_name", "table_type"),
    "views": ("table_catalog", "table_schema", "table_name", "view_definition"),
}
# The columns of Trino's "<table>$history" and "<table>$properties".
HISTORY_COLUMNS: tuple[tuple[str, TrinoType], ...] = (
    ("version", t.BIGINT),
    ("timestamp", t.instant(3)),
    ("user_id", t.VARCHAR),
    ("user_name", t.VARCHAR),
    ("operation", t.VARCHAR),
    ("operation_parameters", t.map_of(t.VARCHAR, t.VARCHAR)),
    ("cluster_id", t.VARCHAR),
    ("read_version", t.BIGINT),
    ("isolation_level", t.VARCHAR),
    ("is_blind_append", t.BOOLEAN),
    ("operation_metrics", t.map_of(t.VARCHAR, t.VARCHAR)),
)
PROPERTIES_COLUMNS: tuple[tuple[str, TrinoType], ...] = (("key", t.VARCHAR), ("value", t.VARCHAR))


@dataclass(frozen=True)
class Column:
    """A column as Trino describes it."""

    name: str
    type: TrinoType
    nullable: bool = True
    comment: str | None = None


@dataclass
class Answer:
    """Rows the catalog gives, with their Trino types."""

    table: pa.Table
    types: list[TrinoType]


def answer(columns: list[tuple[str, TrinoType]], rows: list[tuple[Any, ...]]) -> Answer:
    """Return rows as an Arrow table whose columns have the Arrow form of their Trino types."""
    arrays = [pa.array([row[i] for row in rows], t.to_arrow(kind)) for i, (_, kind) in enumerate(columns)]
    table = pa.Table.from_arrays(arrays, names=[name for name, _ in columns])
    return Answer(table, [kind for _, kind in columns])


class Catalog:
    """The catalog of one warehouse, read anew for each query (tables and their versions change between runs)."""

    def __init__(self, warehouse: Warehouse):
        self.warehouse = warehouse
        self._tables: list[str] | None = None
        self.logs = TableLogs(warehouse)

    # -- tables ---------------------------------------------------------------------------------------------------
    def table_names(self) -> list[str]:
        """Return every table of the warehouse as `schema.table`, sorted."""
        if self._tables is None:
            self._tables = self.warehouse.tables()
        return self._tables

    def _layer_tables(self) -> list[tuple[str, str]]:
        return [(name.split(".", 1)[0], name.split(".", 1)[1]) for name in self.table_names()]

    def tables_in(self, schema: str) -> list[str]:
        if schema == INFORMATION_SCHEMA:
            return sorted(_INFORMATION_SCHEMA)
        return [name.split(".", 1)[1] for name in self.table_names() if name.startswith(f"{schema}.")]

    def check_schema(self, schema: str, name: str) -> None:
        if schema not in SCHEMAS:
            raise UserError(
                f"unknown table {name!r}: name tables as <schema>.<table> "
                f"with a schema of {', '.join(TABLE_SCHEMAS)} (try `lakehouse status`)"
            )
        if schema in DBT_SCHEMAS:
            raise UserError(
                f"unknown table {name}: dbt's {schema} views live in dbt's own database embedded; "
                "query the gold tables instead"
            )

    def snapshot(self, schema: str, table: str, version: int | None = None) -> Snapshot:
        """Return table `schema.table` as its log says it is (at `version`), or raise a UserError naming the tables
        there are, or the versions the table has."""
        name = f"{schema}.{table}"
        self.check_schema(schema, name)
        latest = self.logs.latest(name) if re.fullmatch(r"[a-z][a-z0-9_]*", table) else None
        if latest is None:
            known = ", ".join(n for n in self.table_names() if n.startswith(f"{schema}.")) or "none yet"
            raise UserError(f"unknown table {name}: tables in {schema} are {known}")
        if version is not None and not 0 <= version <= latest:
            raise UserError(f"{name} has no version {version}: its versions are 0 to {latest}")
        found = self.logs.snapshot(name, version)
        assert found is not None  # the table exists: `latest` found it
        return found

    def columns(self, schema: str, table: str, version: int | None = None) -> list[Column]:
        """Return the columns of a table (of a metadata table, of information_schema's) with their Trino types."""
        if schema == INFORMATION_SCHEMA:
            if table not in _INFORMATION_SCHEMA:
                raise UserError(f"unknown table {schema}.{table}: its tables are {', '.join(_INFORMATION_SCHEMA)}")
            return [
                Column(name, t.BIGINT if name == "ordinal_position" else t.VARCHAR)
                for name in _INFORMATION_SCHEMA[table]
            ]
        base, metadata = split_metadata(table)
        if metadata:
            self.snapshot(schema, base)
            return [Column(name, kind) for name, kind in metadata_columns(metadata)]
        fields = self.snapshot(schema, table, version).fields
        return [
            Column(
                f["name"], t.from_delta(f["type"]), f.get("nullable", True), (f.get("metadata") or {}).get("comment")
            )
            for f in fields
        ]

    def version_at(self, schema: str, table: str, pointer: datetime) -> int:
        """Return the newest version of a table committed at or before `pointer` (Delta's `TIMESTAMP AS OF`)."""
        if pointer > datetime.now(UTC):
            raise UserError(f"FOR TIMESTAMP AS OF {pointer.isoformat()}: the pointer is not in the past")
        self.snapshot(schema, table)
        committed = [
            (entry["version"], entry["timestamp"])
            for entry in self.logs.history(f"{schema}.{table}")
            if "version" in entry and "timestamp" in entry
        ]
        millis = pointer.timestamp() * 1000
        before = [version for version, at in committed if at <= millis]
        if not before:
            raise UserError(f"{schema}.{table} has no version at or before {pointer.isoformat()}")
        return max(before)

    # -- metadata tables ------------------------------------------------------------------------------------------
    def history(self, schema: str, table: str) -> Answer:
        """Return Trino's `"<table>$history"`: one row per commit of the Delta log, from its commitInfo."""
        self.snapshot(schema, table)
        rows = []
        for entry in self.logs.history(f"{schema}.{table}"):
            at = entry.get("timestamp")
            rows.append(
                (
                    entry.get("version"),
                    None if at is None else datetime.fromtimestamp(at / 1000, UTC),
                    entry.get("userId"),
                    entry.get("userName"),
                    entry.get("operation"),
                    _text_map(entry.get("operationParameters")),
                    entry.get("clusterId"),
                    entry.get("readVersion", 0),  # Trino reads a missing readVersion as 0
                    entry.get("isolationLevel"),
                    entry.get("isBlindAppend"),
                    _text_map(entry.get("operationMetrics")),
                )
            )
        return answer(list(HISTORY_COLUMNS), rows)

    def properties(self, schema: str, table: str) -> Answer:
        """Return Trino's `"<table>$properties"`: the table's configuration, then its protocol and features."""
        snapshot = self.snapshot(schema, table)
        rows = list(snapshot.configuration.items())
        rows += [
            ("delta.minReaderVersion", str(snapshot.min_reader_version)),
            ("delta.minWriterVersion", str(snapshot.min_writer_version)),
        ]
        rows += [(f"delta.feature.{feature}", "supported") for feature in snapshot.features]
        return answer(list(PROPERTIES_COLUMNS), rows)

    def metadata_table(self, schema: str, table: str) -> Answer:
        base, metadata = split_metadata(table)
        return self.history(schema, base) if metadata == "history" else self.properties(schema, base)

    # -- information_schema ----------------------------------------------------------------------------------------
    def information_schema(self, table: str) -> Answer:
        """Return one of information_schema's tables, as Trino fills it for this catalog."""
        columns = [(c.name, c.type) for c in self.columns(INFORMATION_SCHEMA, table)]
        if table == "schemata":
            return answer(columns, [(CATALOG, schema) for schema in SCHEMAS])
        if table == "tables":
            names = [(INFORMATION_SCHEMA, name) for name in _INFORMATION_SCHEMA] + self._layer_tables()
            return answer(columns, [(CATALOG, schema, name, "BASE TABLE") for schema, name in names])
        if table == "columns":
            rows = []
            for schema, name in [(INFORMATION_SCHEMA, n) for n in _INFORMATION_SCHEMA] + self._layer_tables():
                for position, column in enumerate(self.columns(schema, name), start=1):
                    nullable = "YES" if column.nullable else "NO"
                    rows.append((CATALOG, schema, name, column.name, position, None, nullable, str(column.type)))
            return answer(columns, rows)
        if table == "views":
            return answer(columns, [])
        raise UserError(f"information_schema.{table} is not available embedded: roles and grants exist only on Trino")

    # -- commands -----------------------------------------------------------------------------------------------------
    def command(self, sql: str) -> Answer | None:
        """Answer a catalog command (SHOW ..., DESCRIBE) as Trino does; None when `sql` is no such command."""
        text = " ".join(re.sub(r"--[^\n]*", " ", sql).split()).rstrip(";").strip()
        if match := re.fullmatch(rf"(?i)show\s+schemas(?:\s+(?:from|in)\s+({_NAME}))?{_LIKE}", text):
            if match[1] and _identifier(match[1]) != CATALOG:
                raise UserError(f"unknown catalog {match[1]}: the only catalog is {CATALOG}")
            schemas = [s for s in SCHEMAS if _like(s, match[2], match[3])]
            return answer([("Schema", t.VARCHAR)], [(s,) for s in schemas])
        if match := re.fullmatch(rf"(?i)show\s+tables(?:\s+(?:from|in)\s+({_QUALIFIED}))?{_LIKE}", text):
            if not match[1]:
                raise UserError("SHOW TABLES needs a schema: SHOW TABLES FROM silver")
            schema = self._schema(match[1])
            names = [n for n in self.tables_in(schema) if _like(n, match[2], match[3])]
            return answer([("Table", t.VARCHAR)], [(n,) for n in names])
        if match := re.fullmatch(rf"(?i)(?:show\s+columns\s+(?:from|in)|describe|desc)\s+({_QUALIFIED}){_LIKE}", text):
            if match[2] and not text.lower().startswith("show"):
                raise UserError("DESCRIBE takes no LIKE: use SHOW COLUMNS FROM <table> LIKE '<pattern>'")
            schema, table = self._table(match[1])
            rows = [
                (c.name, str(c.type), "", c.comment or "")
                for c in self.columns(schema, table)
                if _like(c.name, match[2], match[3])
            ]
            kinds = [("Column", t.VARCHAR), ("Type", t.VARCHAR), ("Extra", t.VARCHAR), ("Comment", t.VARCHAR)]
            return answer(kinds, rows)
        if match := re.fullmatch(rf"(?i)show\s+create\s+table\s+({_QUALIFIED})", text):
            statement = self.create_table(*self._table(match[1]))
            return answer([("Create Table", t.varchar(len(statement)))], [(statement,)])
        if refused := re.match(
            r"(?i)(explain(?:\s+analyze)?|show\s+create\s+\w+(?:\s+view)?|show\s+\w+|describe\s+\w+|use|set\s+\w+|reset\s+\w+)\b",
            text,
        ):
            construct = " ".join(refused[1].upper().split())
            raise UserError(
                f"{construct} is answered only by Trino (LAKEHOUSE_ENV=stack); the embedded engine is DuckDB"
            )
        return None

    def create_table(self, schema: str, table: str) -> str:
        """Return Trino's SHOW CREATE TABLE statement for a Delta table."""
        if split_metadata(table)[1] or schema == INFORMATION_SCHEMA:
            raise UserError(f"SHOW CREATE TABLE {schema}.{table}: only the lakehouse's own tables have one")
        metadata = self.snapshot(schema, table)
        columns = self.columns(schema, table)
        lines = []
        for column in columns:
            comment = f" COMMENT {_quote(column.comment)}" if column.comment else ""
            not_null = "" if column.nullable else " NOT NULL"
            # Trino writes the statement's types as SQL: decimal(12, 2) where DESCRIBE says decimal(12,2)
            kind = re.sub(r",(?=\S)", ", ", str(column.type))
            lines.append(f"   {_identifier_sql(column.name)} {kind}{not_null}{comment}")
        statement = f"CREATE TABLE {CATALOG}.{schema}.{_identifier_sql(table)} (\n" + ",\n".join(lines) + "\n)"
        if metadata.description:
            statement += f"\nCOMMENT {_quote(metadata.description)}"
        config = metadata.configuration
        properties = []
        if "delta.checkpointInterval" in config:
            properties.append(f"checkpoint_interval = {int(config['delta.checkpointInterval'])}")
        if config.get("delta.enableChangeDataFeed", "").lower() == "true":
            properties.append("change_data_feed_enabled = true")
        mapping = config.get("delta.columnMapping.mode", "none").lower()
        if mapping != "none":
            properties.append(f"column_mapping_mode = {_quote(mapping.upper())}")
        if config.get("delta.enableDeletionVectors", "").lower() == "true":
            properties.append("deletion_vectors_enabled = true")
        properties.append(f"location = {_quote(self.warehouse.table_uri(f'{schema}.{table}'))}")
        if metadata.partition_columns:
            partitions = ", ".join(_quote(c) for c in metadata.partition_columns)
            properties.append(f"partitioned_by = ARRAY[{partitions}]")
        return statement + "\nWITH (\n" + ",\n".join(f"   {p}" for p in properties) + "\n)"

    def _schema(self, name: str) -> str:
        parts = [_identifier(p) for p in _split_name(name)]
        if len(parts) == 2 and parts[0] != CATALOG:
            raise UserError(f"unknown catalog {parts[0]}: the only catalog is {CATALOG}")
        schema = parts[-1]
        if schema not in SCHEMAS:
            raise UserError(f"unknown schema {schema}: the schemas are {', '.join(SCHEMAS)}")
        return schema

    def _table(self, name: str) -> tuple[str, str]:
        parts = [_identifier(p) for p in _split_name(name)]
        if len(parts) == 3 and parts[0] != CATALOG:
            raise UserError(f"unknown catalog {parts[0]}: the only catalog is {CATALOG}")
        if len(parts) < 2:
            raise UserError(f"name tables with their schema, e.g. silver.{parts[-1]}")
        schema, table = parts[-2], parts[-1]
        if schema != INFORMATION_SCHEMA:
            self.check_schema(schema, f"{schema}.{table}")
        return schema, table


def split_metadata(table: str) -> tuple[str, str | None]:
    """Return (table, metadata table kind) for `orders$history`; (table, None) for a plain table name."""
    if "$" not in table:
        return table, None
    base, kind = table.split("$", 1)
    if kind not in METADATA_TABLES:
        raise UserError(f'"{table}": the embedded engine has the metadata tables $history and $properties only')
    return base, kind


def metadata_columns(kind: str) -> tuple[tuple[str, TrinoType], ...]:
    return HISTORY_COLUMNS if kind == "history" else PROPERTIES_COLUMNS


def _text_map(values: dict[str, Any] | None) -> list[tuple[str, str]] | None:
    """Return a commitInfo map as Trino's map(varchar, varchar): strings as they are, anything else as JSON."""
    if values is None:
        return None
    return [(k, v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))) for k, v in values.items()]


_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
_NAME = _IDENT
_QUALIFIED = rf"{_IDENT}(?:\s*\.\s*{_IDENT}){{0,2}}"
_LIKE = r"(?:\s+like\s+'((?:[^']|'')*)'(?:\s+escape\s+'(.)')?)?"


def _split_name(name: str) -> list[str]:
    return re.findall(_IDENT, name)


def _identifier(part: str) -> str:
    """Return an identifier as Trino resolves it: quoted ones as written, others lowercased."""
    if part.startswith('"'):
        return part[1:-1].replace('""', '"')
    return part.lower()


def _identifier_sql(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _like(value: str, pattern: str | None, escape: str | None) -> bool:
    """Return whether `value` matches a SQL LIKE pattern (None matches everything)."""
    if pattern is None:
        return True
    pattern = pattern.replace("''", "'")
    regex, i = "", 0
    while i < len(pattern):
        char = pattern[i]
        if escape and char == escape and i + 1 < len(pattern):
            regex += re.escape(pattern[i + 1])
            i += 2
            continue
        regex += ".*" if char == "%" else "." if char == "_" else re.escape(char)
        i += 1
    return re.fullmatch(regex, value, flags=re.S) is not None

"""The table layer: every Delta read and write in the lakehouse goes through `Tables`.

A table is named `layer.table` and described by a `TableSpec` kept beside the code that writes it. The Delta engine
sits behind `DeltaEngine`; the default, `DeltaRsEngine`, commits with delta-rs (no Delta jars needed) and lets Spark
read a table's current snapshot as Parquet files.

Idempotence: a write can carry a `Commit(app_id, version)`, stored in the Delta log as an application transaction.
A write whose app has already committed that version (or a later one) is skipped, so re-running a batch changes
nothing, and the data and the marker land in one atomic commit.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, QueryBuilder, Transaction, write_deltalake
from deltalake.exceptions import TableNotFoundError
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema

from lakehouse.errors import PipelineError, UserError
from lakehouse.rows import ArrowRows, Rows, SparkRows, to_arrow
from lakehouse.warehouse import Warehouse, parse_table_name

# What a write takes: a Spark DataFrame, rows a step materialized once (held where the engine writes from), or a
# few Arrow rows made on the driver (the run audit).
Frame: TypeAlias = DataFrame | ArrowRows | SparkRows | pa.Table

# Commits between two checkpoints of a table's log. Every look at a table replays the commits after its last
# checkpoint, and a day adds a few commits to each table: at Delta's default of 100, a table's load grew from ~8 to
# ~35 ms over a few weeks, and the pipeline loads tables ~150 times a day. A checkpoint of these tables takes
# ~10-40 ms; with one every 10 commits a load stays at ~3-6 ms.
CHECKPOINT_INTERVAL = 10

# Tables that delta-rs writes keep deletion vectors off, so every engine (DuckDB, Trino, Spark) can read them.
TABLE_CONFIGURATION = {
    "delta.enableDeletionVectors": "false",
    "delta.checkpointInterval": str(CHECKPOINT_INTERVAL),
}


@dataclass(frozen=True)
class TableSpec:
    """What a table is: name, meaning, business key and layout. Lives beside the code that writes the table."""

    name: str
    description: str
    keys: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        parse_table_name(self.name)

    @property
    def layer(self) -> str:
        return self.name.split(".", 1)[0]


def rows_added(metrics: dict[str, Any]) -> int:
    """Return the rows a commit added to its table, from its `operationMetrics` as either engine spells them."""
    for key in ("numTargetRowsInserted", "num_target_rows_inserted", "numOutputRows", "num_added_rows"):
        if key in metrics:
            return int(metrics[key])
    return 0


# Where a commit's note is kept in its commitInfo: the Delta protocol's field for it, which both engines write.
USER_METADATA = "userMetadata"


@dataclass(frozen=True)
class Commit:
    """An idempotence marker: `app_id` has consumed everything up to batch `version`.

    A `note` (JSON text) is recorded in the commit itself (Delta's `userMetadata`), where it survives whatever
    happens after the commit: a step puts its counts in its last commit, for the audit to recover.
    """

    app_id: str
    version: int
    note: str | None = None

    def noting(self, facts: dict[str, Any]) -> Commit:
        """Return this marker with `facts` (JSON values) as its note, which `Tables.note` finds again."""
        return Commit(self.app_id, self.version, json.dumps({"app_id": self.app_id, "version": self.version, **facts}))


@dataclass
class WriteResult:
    """What a write did to a table."""

    table: str
    rows: int  # rows offered
    version: int | None
    skipped: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def inserted(self) -> int:
        """Return the rows that became new rows of the table (a merge may insert fewer than it was offered)."""
        if "num_target_rows_inserted" in self.metrics:
            return int(self.metrics["num_target_rows_inserted"])
        return 0 if self.skipped else self.rows


@dataclass(frozen=True)
class TableFacts:
    """What a table holds now: its version, rows and data files, and its last commit."""

    version: int
    rows: int
    files: int
    changed_at: datetime
    operation: str


class DeltaEngine(Protocol):
    """The operations the pipeline needs from a Delta implementation."""

    cache_level: StorageLevel  # where a step keeps what it computes once and reads again

    def refresh(self) -> None: ...
    def exists(self, uri: str) -> bool: ...
    def version(self, uri: str) -> int | None: ...
    def identity(self, uri: str) -> tuple[str, int] | None: ...
    def app_version(self, uri: str, app_id: str) -> int | None: ...
    def read(self, uri: str, *, version: int | None = None, where: str | None = None) -> DataFrame: ...
    def materialize(self, df: DataFrame) -> Rows: ...
    def rows(self, uri: str, sql: str) -> Rows: ...
    def query(self, uri: str, sql: str) -> pa.Table: ...
    def write(
        self,
        spec: TableSpec,
        uri: str,
        df: Frame,
        *,
        mode: str,
        predicate: str | None,
        commit: Commit | None,
        replace_schema: bool = False,
    ) -> WriteResult: ...
    def merge(
        self,
        spec: TableSpec,
        uri: str,
        df: Frame,
        *,
        on: Sequence[str],
        update_when: str | None,
        insert_only: bool,
        commit: Commit | None,
    ) -> WriteResult: ...
    def history(self, uri: str, limit: int | None = None) -> list[dict[str, Any]]: ...
    def describe(self, uri: str) -> TableFacts | None: ...
    def optimize(self, uri: str) -> dict[str, Any]: ...
    def vacuum(self, uri: str, retention_hours: int) -> list[str]: ...


def _nullable(schema: pa.Schema) -> pa.Schema:
    """Return `schema` with every field (nested ones too) nullable, the way Delta tables are usually declared."""

    def relax(dtype: pa.DataType) -> pa.DataType:
        if pa.types.is_struct(dtype):
            return pa.struct([pa.field(f.name, relax(f.type), nullable=True) for f in dtype])
        if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
            return pa.list_(pa.field(dtype.value_field.name, relax(dtype.value_type), nullable=True))
        if pa.types.is_map(dtype):
            return pa.map_(dtype.key_type, relax(dtype.item_type))
        return dtype

    return pa.schema([pa.field(f.name, relax(f.type), nullable=True) for f in schema])


class DeltaRsEngine:
    """Delta through delta-rs: Spark computes, Arrow carries the rows, delta-rs commits."""

    # The rows go to the driver anyway (Arrow for delta-rs): Spark's cache may use memory first, disk when full.
    cache_level = StorageLevel.MEMORY_AND_DISK

    def __init__(self, spark: SparkSession | None, warehouse: Warehouse):
        self.spark = spark
        self.warehouse = warehouse
        self.options = warehouse.storage_options() or None
        # Loading a table's log costs ~10 ms; a run asks about the same tables many times. Writes go through this
        # engine, which drops its cached copy; the pipeline is the only writer while it runs, and each run starts
        # from fresh copies (refresh), since another process may have written in between.
        # Steps run in threads: a copy loaded while a write was under way may predate its commit, so it is kept only
        # if no write to that table began or ended while it loaded (`_writes` counts both).
        self._cache: dict[str, DeltaTable] = {}
        self._writes: Counter[str] = Counter()
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Forget every cached table state, so the next look reads each table's newest version."""
        with self._lock:
            self._cache.clear()

    def _table(self, uri: str, version: int | None = None) -> DeltaTable | None:
        with self._lock:
            if version is None and uri in self._cache:
                return self._cache[uri]
            writes = self._writes[uri]
        try:
            table = DeltaTable(uri, version=version, storage_options=self.options)
        except TableNotFoundError:
            return None
        if version is None:
            with self._lock:
                if self._writes[uri] == writes:
                    self._cache[uri] = table
        return table

    def _changed(self, uri: str) -> None:
        with self._lock:
            self._writes[uri] += 1
            self._cache.pop(uri, None)

    @contextmanager
    def _writing(self, uri: str) -> Iterator[None]:
        """Drop the cached copy of `uri` before and after a write, so no reader keeps a copy from before its commit."""
        self._changed(uri)
        try:
            yield
        finally:
            self._changed(uri)

    def exists(self, uri: str) -> bool:
        return uri in self._cache or DeltaTable.is_deltatable(uri, storage_options=self.options)

    def query(self, uri: str, sql: str) -> pa.Table:
        """Answer `sql` (DataFusion SQL; the table is `t`) with delta-rs, pruning files by partition and stats.

        DataFusion answers text as Arrow string views, which Spark and Arrow joins do not take; they come back as
        plain strings (and binary views as binary).
        """
        table = self._table(uri)
        if table is None:
            raise PipelineError(f"no Delta table at {uri}")
        rows = pa.table(QueryBuilder().register("t", table).execute(sql).read_all())
        plain = {pa.string_view(): pa.string(), pa.binary_view(): pa.binary()}
        return rows.cast(pa.schema([f.with_type(plain.get(f.type, f.type)) for f in rows.schema]))

    def materialize(self, df: DataFrame) -> Rows:
        """Compute `df` once into Arrow on the driver, where delta-rs writes from."""
        return ArrowRows(df.toArrow())

    def rows(self, uri: str, sql: str) -> Rows:
        return ArrowRows(self.query(uri, sql))

    def version(self, uri: str) -> int | None:
        table = self._table(uri)
        return table.version() if table else None

    def identity(self, uri: str) -> tuple[str, int] | None:
        table = self._table(uri)
        return (str(table.metadata().id), table.version()) if table else None

    def app_version(self, uri: str, app_id: str) -> int | None:
        table = self._table(uri)
        return table.transaction_version(app_id) if table else None

    def arrow_schema(self, uri: str) -> pa.Schema | None:
        table = self._table(uri)
        return pa.schema(table.schema().to_arrow()) if table else None

    def read(self, uri: str, *, version: int | None = None, where: str | None = None) -> DataFrame:
        table = self._table(uri, version)
        if table is None:
            raise PipelineError(f"no Delta table at {uri}")
        if self.spark is None:
            raise PipelineError(f"reading {uri} as a DataFrame needs a Spark session")
        schema = from_arrow_schema(pa.schema(table.schema().to_arrow()))
        files = table.file_uris(file_pruning_predicate=where) if where else table.file_uris()
        if not files:
            return self.spark.createDataFrame([], schema)
        spark_uri = self.warehouse.spark_uri
        frame = (
            self.spark.read.schema(schema).option("basePath", spark_uri(uri)).parquet(*(spark_uri(f) for f in files))
        )
        # Spark appends partition columns last; give the table's own column order back.
        frame = frame.select(*schema.fieldNames())
        return frame.where(where) if where else frame

    def _arrow(self, uri: str, df: Frame) -> pa.Table:
        data = to_arrow(df)
        target = self.arrow_schema(uri)
        if target is None:
            return data.cast(_nullable(data.schema))
        missing = [n for n in target.names if n not in data.schema.names]
        extra = [n for n in data.schema.names if n not in target.names]
        if missing or extra:
            raise PipelineError(
                f"schema of {uri} does not match the data: missing {missing or 'none'}, new {extra or 'none'}; "
                "a schema change needs a migration (or drop the table and re-run)"
            )
        try:
            return data.select(target.names).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise PipelineError(f"data does not fit the schema of {uri}: {exc}") from exc

    @staticmethod
    def _commit_properties(commit: Commit | None) -> CommitProperties | None:
        if commit is None:
            return None
        return CommitProperties(
            app_transactions=[Transaction(app_id=commit.app_id, version=commit.version)],
            custom_metadata={USER_METADATA: commit.note} if commit.note is not None else None,
        )

    def _already_done(self, uri: str, commit: Commit | None) -> bool:
        if commit is None:
            return False
        done = self.app_version(uri, commit.app_id)
        return done is not None and done >= commit.version

    def write(
        self,
        spec: TableSpec,
        uri: str,
        df: Frame,
        *,
        mode: str,
        predicate: str | None,
        commit: Commit | None,
        replace_schema: bool = False,
    ) -> WriteResult:
        if self._already_done(uri, commit):
            return WriteResult(spec.name, 0, self.version(uri), skipped=True)
        if replace_schema:
            data = to_arrow(df)
            data = data.cast(_nullable(data.schema))
        else:
            data = self._arrow(uri, df)
        creating = not self.exists(uri)
        with self._writing(uri):
            write_deltalake(  # type: ignore[call-overload,misc]  # stubs want a literal mode; ours is chosen at run time
                uri,
                data,
                mode=mode,
                predicate=predicate if not creating else None,
                partition_by=list(spec.partition_by) or None,
                description=spec.description if creating or replace_schema else None,
                schema_mode="overwrite" if replace_schema else None,
                configuration=TABLE_CONFIGURATION if creating else None,
                storage_options=self.options,
                commit_properties=self._commit_properties(commit),
            )
        return WriteResult(spec.name, data.num_rows, self.version(uri))

    def merge(
        self,
        spec: TableSpec,
        uri: str,
        df: Frame,
        *,
        on: Sequence[str],
        update_when: str | None,
        insert_only: bool,
        commit: Commit | None,
    ) -> WriteResult:
        if self._already_done(uri, commit):
            return WriteResult(spec.name, 0, self.version(uri), skipped=True)
        if not self.exists(uri):
            return self.write(spec, uri, df, mode="append", predicate=None, commit=commit)
        data = self._arrow(uri, df)
        if data.num_rows == 0:  # nothing to upsert, but the commit marker must still be recorded
            return self.write(spec, uri, data, mode="append", predicate=None, commit=commit)
        if insert_only:
            return self._insert_new(spec, uri, data, on=on, commit=commit)
        condition = " and ".join(f"t.{k} = s.{k}" for k in on)
        with self._writing(uri):
            merger = DeltaTable(uri, storage_options=self.options).merge(
                data,
                predicate=condition,
                source_alias="s",
                target_alias="t",
                commit_properties=self._commit_properties(commit),
            )
            metrics = merger.when_matched_update_all(predicate=update_when).when_not_matched_insert_all().execute()
        return WriteResult(spec.name, data.num_rows, self.version(uri), metrics=dict(metrics))

    def _insert_new(
        self, spec: TableSpec, uri: str, data: pa.Table, *, on: Sequence[str], commit: Commit | None
    ) -> WriteResult:
        """Append the rows whose keys the table does not hold yet: an insert-only merge as an anti-join and an append.

        delta-rs's merge scans and plans a join over every file the keys might touch; here DataFusion reads only the
        key columns of the partitions the data falls in (when a key is a partition column), Arrow does the anti-join,
        and the append commits alone. About a second less per day of events.
        """
        pruning = [
            sql_in(key, sorted(v for v in pc.unique(data.column(key)).to_pylist() if v is not None))
            for key in on
            if key in spec.partition_by
        ]
        where = f" where {' and '.join(pruning)}" if pruning else ""
        columns = ", ".join(f'"{key}"' for key in on)
        present = self.query(uri, f"select distinct {columns} from t{where}").cast(data.select(list(on)).schema)
        new = data.join(present, keys=list(on), join_type="left anti") if present.num_rows else data
        written = self.write(spec, uri, new.select(data.schema.names), mode="append", predicate=None, commit=commit)
        return WriteResult(
            spec.name, data.num_rows, written.version, metrics={"num_target_rows_inserted": new.num_rows}
        )

    def history(self, uri: str, limit: int | None = None) -> list[dict[str, Any]]:
        table = self._table(uri)
        return table.history(limit) if table else []

    def describe(self, uri: str) -> TableFacts | None:
        """Return the table's version, rows and files (from the log's file statistics, no data read) and its last
        commit; None when there is no table."""
        table = self._table(uri)
        if table is None:
            return None
        added = table.get_add_actions(flatten=True)
        rows = sum(v for v in added.column("num_records").to_pylist() if v is not None)
        last = table.history(1)[0]
        changed_at = datetime.fromtimestamp(last["timestamp"] / 1000, UTC)
        return TableFacts(table.version(), int(rows), added.num_rows, changed_at, str(last.get("operation", "")))

    def optimize(self, uri: str) -> dict[str, Any]:
        table = self._table(uri)
        if table is None:
            return {}
        with self._writing(uri):
            # A table made before a setting was added (the checkpoint interval) gets it here.
            settings = table.metadata().configuration
            outdated = {k: v for k, v in TABLE_CONFIGURATION.items() if settings.get(k) != v}
            if outdated:
                table.alter.set_table_properties(outdated)
            return dict(table.optimize.compact())

    def vacuum(self, uri: str, retention_hours: int) -> list[str]:
        table = self._table(uri)
        if table is None:
            return []
        with self._writing(uri):
            return table.vacuum(retention_hours=retention_hours, enforce_retention_duration=False, dry_run=False)


def _engine(spark: SparkSession | None, warehouse: Warehouse) -> DeltaEngine:
    name = warehouse.settings.delta_engine
    if name == "delta-rs":
        return DeltaRsEngine(spark, warehouse)
    if spark is None:
        return DeltaRsEngine(None, warehouse)  # without Spark only metadata is asked, which delta-rs answers
    from lakehouse.delta_spark import DeltaSparkEngine

    return DeltaSparkEngine(spark, warehouse)


_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_\-:. ]*$")


def sql_in(column: str, values: Sequence[object]) -> str:
    """Return a SQL predicate `column in (...)` over plain values (dates, numbers, ids), safely quoted."""
    rendered = []
    for value in values:
        text = str(value)
        if not _SAFE_VALUE.match(text):
            raise PipelineError(f"refusing to build a predicate on {column} from the value {text!r}")
        rendered.append(text if isinstance(value, int) else f"'{text}'")
    return f"{column} in ({', '.join(rendered)})" if rendered else "false"


class Tables:
    """Named Delta tables in one warehouse, read and written with one engine."""

    def __init__(self, warehouse: Warehouse, spark: SparkSession | None = None, engine: DeltaEngine | None = None):
        """Tables of `warehouse`; without a Spark session everything but reading as a DataFrame still works."""
        self.warehouse = warehouse
        self.spark = spark
        self.engine = engine or _engine(spark, warehouse)

    def uri(self, name: str) -> str:
        return self.warehouse.table_uri(name)

    def refresh(self) -> None:
        """Look at every table afresh: another process (or another Tables) may have written since."""
        self.engine.refresh()

    def exists(self, name: str) -> bool:
        return self.engine.exists(self.uri(name))

    def version(self, name: str) -> int | None:
        """Return the table's current Delta version, or None when it does not exist yet."""
        return self.engine.version(self.uri(name))

    def identity(self, name: str) -> tuple[str, int] | None:
        """Return the table's id and current version (a table made anew has another id), or None when there is none."""
        return self.engine.identity(self.uri(name))

    def watermark(self, name: str, app_id: str) -> int | None:
        """Return the last batch `app_id` committed to the table, or None when it never has."""
        return self.engine.app_version(self.uri(name), app_id)

    def read(self, name: str, *, version: int | None = None, where: str | None = None) -> DataFrame:
        """Return the table (or one of its versions) as a Spark DataFrame, optionally pruned by a predicate."""
        if not self.exists(name):
            raise UserError(f"table {name} does not exist yet: run `lakehouse run` first")
        return self.engine.read(self.uri(name), version=version, where=where)

    def query(self, name: str, sql: str) -> pa.Table:
        """Return the rows of a small question about one table (a list of days, say) on the driver.

        `sql` names the table `t` and is plain SQL both engines read alike (delta-rs answers it with DataFusion,
        delta-spark with Spark), e.g. "select distinct event_date from t where _batch_id > 5".
        """
        return self.engine.query(self.uri(name), sql)

    def rows(self, name: str, sql: str) -> Rows:
        """Return the answer of `sql` about one table (named `t`) as rows held where the engine writes from."""
        return self.engine.rows(self.uri(name), sql)

    def cache(self, df: DataFrame) -> DataFrame:
        """Persist `df` where this engine keeps what a step reads twice (release it with `unpersist`)."""
        return df.persist(self.engine.cache_level)

    def materialize(self, df: DataFrame) -> Rows:
        """Compute `df` once and hold its rows where the engine writes from (Arrow for delta-rs, Spark's cache for
        delta-spark), so a step can split, count and write them without computing them again."""
        return self.engine.materialize(df)

    def append(
        self, spec: TableSpec, df: Frame, *, commit: Commit | None = None, skip_empty: bool = False
    ) -> WriteResult:
        """Append `df`; with a commit marker, once per (app, batch).

        With `skip_empty`, materialized rows that turn out to be none commit nothing (once the table exists): for
        side tables such as a quarantine, whose batch marker the step's main table carries.
        """
        if skip_empty and not isinstance(df, DataFrame) and df.num_rows == 0 and self.exists(spec.name):
            return WriteResult(spec.name, 0, self.version(spec.name), skipped=True)
        return self.engine.write(spec, self.uri(spec.name), df, mode="append", predicate=None, commit=commit)

    def overwrite(
        self,
        spec: TableSpec,
        df: Frame,
        *,
        predicate: str | None = None,
        commit: Commit | None = None,
        replace_schema: bool = False,
    ) -> WriteResult:
        """Replace the whole table, or only the rows matching `predicate` (which every row of `df` must match).

        With `replace_schema` the table takes the data's schema (a new version of a model whose columns changed).
        """
        return self.engine.write(
            spec,
            self.uri(spec.name),
            df,
            mode="overwrite",
            predicate=predicate,
            commit=commit,
            replace_schema=replace_schema,
        )

    def merge(
        self,
        spec: TableSpec,
        df: Frame,
        *,
        on: Sequence[str] | None = None,
        update_when: str | None = None,
        insert_only: bool = False,
        commit: Commit | None = None,
    ) -> WriteResult:
        """Upsert `df` on the spec's keys: update matches (where `update_when` holds), insert the rest."""
        keys = tuple(on or spec.keys)
        if not keys:
            raise PipelineError(f"merge into {spec.name} needs key columns")
        return self.engine.merge(
            spec,
            self.uri(spec.name),
            df,
            on=keys,
            update_when=update_when,
            insert_only=insert_only,
            commit=commit,
        )

    def history(self, name: str, limit: int | None = None) -> list[dict[str, Any]]:
        return self.engine.history(self.uri(name), limit)

    def describe(self, name: str) -> TableFacts | None:
        """Return the table's version, rows, files and last commit, or None when it does not exist."""
        return self.engine.describe(self.uri(name))

    def note(self, name: str, commit: Commit, *, within: int = 50) -> dict[str, Any] | None:
        """Return the facts noted in the commit of `commit`'s marker, if it is among the table's last `within`, with
        that commit's own metrics (`operationMetrics`: rows written, inserted...) under "metrics"."""
        for entry in self.history(name, within):
            try:
                noted = json.loads(entry.get(USER_METADATA) or "null")
            except json.JSONDecodeError:
                continue  # a note someone else wrote
            marker = (noted.get("app_id"), noted.get("version")) if isinstance(noted, dict) else None
            if marker == (commit.app_id, commit.version):
                return {**noted, "metrics": entry.get("operationMetrics") or {}}
        return None

    def optimize(self, name: str) -> dict[str, Any]:
        return self.engine.optimize(self.uri(name))

    def vacuum(self, name: str, retention_hours: int = 168) -> list[str]:
        return self.engine.vacuum(self.uri(name), retention_hours)

    def names(self) -> list[str]:
        """Return every Delta table in the warehouse, as `layer.table`, sorted."""
        return self.warehouse.tables()

"""Rows that Spark computed once and that a step then splits, counts, joins and writes without computing them again.

Where they are held depends on the Delta engine, which is the only thing that decides it (`Tables.materialize`):
delta-rs writes from Arrow on the driver, so its rows are an Arrow table there (`ArrowRows`); delta-spark writes
from the executors, so its rows stay checkpointed by Spark and never pass through the driver (`SparkRows`).
A step sees only `Rows`, and reads the same on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F


class Rows(Protocol):
    """A computed set of rows: filtered, projected, joined and counted where it is held."""

    @property
    def num_rows(self) -> int: ...
    @property
    def columns(self) -> list[str]: ...
    def where_set(self, flag: str) -> Rows: ...
    def where_null(self, flag: str) -> Rows: ...
    def select(self, columns: Sequence[str]) -> Rows: ...
    def drop(self, columns: Sequence[str]) -> Rows: ...
    def values(self, column: str) -> list: ...
    def distinct(self, columns: Sequence[str]) -> Rows: ...
    def anti_join(self, other: Rows, keys: Sequence[str]) -> Rows: ...
    def concat(self, other: Rows) -> Rows: ...
    def frame(self, spark: SparkSession) -> DataFrame: ...
    def release(self) -> None: ...


def split(rows: Rows, flag: str, keep: Sequence[str], flagged: Sequence[str]) -> tuple[Rows, Rows]:
    """Return (rows where `flag` is null, with columns `keep`; rows where it is set, with columns `flagged`)."""
    return rows.where_null(flag).select(keep), rows.where_set(flag).select(flagged)


class ArrowRows:
    """Rows on the driver as an Arrow table."""

    def __init__(self, table: pa.Table):
        self.table = table

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    def where_set(self, flag: str) -> ArrowRows:
        return ArrowRows(self.table.filter(pc.is_valid(self.table.column(flag))))

    def where_null(self, flag: str) -> ArrowRows:
        return ArrowRows(self.table.filter(pc.is_null(self.table.column(flag))))

    def select(self, columns: Sequence[str]) -> ArrowRows:
        return ArrowRows(self.table.select(list(columns)))

    def drop(self, columns: Sequence[str]) -> ArrowRows:
        return ArrowRows(self.table.drop_columns(list(columns)))

    def values(self, column: str) -> list:
        """Return the distinct non-null values of a column, sorted."""
        return sorted(v for v in pc.unique(self.table.column(column)).to_pylist() if v is not None)

    def distinct(self, columns: Sequence[str]) -> ArrowRows:
        return ArrowRows(self.table.select(list(columns)).group_by(list(columns)).aggregate([]))

    def anti_join(self, other: Rows, keys: Sequence[str]) -> ArrowRows:
        right = to_arrow(other).select(list(keys))
        if right.num_rows == 0:
            return self
        right = right.cast(self.table.select(list(keys)).schema)
        return ArrowRows(self.table.join(right, keys=list(keys), join_type="left anti").select(self.columns))

    def concat(self, other: Rows) -> ArrowRows:
        """Return these rows followed by `other`'s, both in this schema (every column nullable)."""
        schema = pa.schema([f.with_nullable(True) for f in self.table.schema])
        below = to_arrow(other).select(schema.names).cast(schema)
        return ArrowRows(pa.concat_tables([self.table.cast(schema), below]))

    def frame(self, spark: SparkSession) -> DataFrame:
        return spark.createDataFrame(self.table)

    def release(self) -> None:
        self.table = self.table.slice(0, 0)


class SparkRows:
    """Rows kept by Spark: a checkpointed DataFrame, computed once, never collected to the driver."""

    def __init__(self, df: DataFrame, *, level: StorageLevel | None):
        """Compute `df` now and keep its rows at `level`; with None, `df` reads rows another SparkRows keeps.

        The rows are checkpointed, not merely cached: a cached frame is computed again when a table it read is
        written (Delta refreshes the caches over a table it commits to), and a step that writes what it found new
        in a table, then uses those rows again, would find them gone.
        """
        self.df = df.localCheckpoint(eager=True, storageLevel=level) if level is not None else df
        self._owner = level is not None
        self._count: int | None = None

    @property
    def num_rows(self) -> int:
        if self._count is None:
            self._count = self.df.count()
        return self._count

    @property
    def columns(self) -> list[str]:
        return list(self.df.columns)

    def _derived(self, df: DataFrame) -> SparkRows:
        return SparkRows(df, level=None)  # reads the parent's cache; the parent owns it

    def where_set(self, flag: str) -> SparkRows:
        return self._derived(self.df.where(F.col(flag).isNotNull()))

    def where_null(self, flag: str) -> SparkRows:
        return self._derived(self.df.where(F.col(flag).isNull()))

    def select(self, columns: Sequence[str]) -> SparkRows:
        return self._derived(self.df.select(*columns))

    def drop(self, columns: Sequence[str]) -> SparkRows:
        return self._derived(self.df.drop(*columns))

    def values(self, column: str) -> list:
        """Return the distinct non-null values of a column, sorted (a small answer: days, statuses)."""
        found = self.df.where(F.col(column).isNotNull()).select(column).distinct().collect()
        return sorted(row[0] for row in found)

    def distinct(self, columns: Sequence[str]) -> SparkRows:
        return self._derived(self.df.select(*columns).distinct())

    def anti_join(self, other: Rows, keys: Sequence[str]) -> SparkRows:
        right = other.frame(self.df.sparkSession).select(*keys)
        return self._derived(self.df.join(right, on=list(keys), how="left_anti"))

    def concat(self, other: Rows) -> SparkRows:
        below = other.frame(self.df.sparkSession).select(*self.columns)
        return self._derived(self.df.unionByName(below))

    def frame(self, spark: SparkSession) -> DataFrame:
        return self.df

    def release(self) -> None:
        """Drop the kept rows now (otherwise they go when Spark's cleaner finds the frame unreferenced)."""
        if self._owner:
            self.df._jdf.queryExecution().logical().rdd().unpersist(False)  # the checkpoint's blocks


def to_arrow(data: Rows | DataFrame | pa.Table) -> pa.Table:
    """Return what a write was given as Arrow on the driver (what the delta-rs engine writes from)."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, ArrowRows):
        return data.table
    if isinstance(data, SparkRows):
        return data.df.toArrow()
    if isinstance(data, DataFrame):
        return data.toArrow()
    raise TypeError(f"cannot take {type(data).__name__} as rows")


def to_frame(data: Rows | DataFrame | pa.Table, spark: SparkSession) -> DataFrame:
    """Return what a write was given as a Spark DataFrame (what the delta-spark engine writes from)."""
    if isinstance(data, pa.Table):
        return spark.createDataFrame(data)
    if isinstance(data, DataFrame):
        return data
    return data.frame(spark)

"""Bronze transforms: landing lines to string columns plus ingestion metadata, and the reason a line is unusable.

Bronze keeps every field as the text that arrived, so nothing is lost to a cast; silver types and validates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

Transform = Callable[[DataFrame], DataFrame]

ERROR = "_error"
METADATA_COLUMNS = ("_source_file", "_source_line", "_batch_id", "_batch_date", "_ingested_at")


def with_line_numbers(df: DataFrame) -> DataFrame:
    """Return `df` (lines read in file order, with `_source_file`) plus `_source_line`, 1-based within each file."""
    order = Window.partitionBy("_source_file").orderBy("_read_order")
    return (
        df.withColumn("_read_order", F.monotonically_increasing_id())
        .withColumn("_source_line", F.row_number().over(order))
        .drop("_read_order")
    )


def batch_date_from_path(path: Column) -> Column:
    """Return the batch day encoded in a landing path's `dt=YYYY-MM-DD` folder."""
    return F.to_date(F.regexp_extract(path, r"/dt=(\d{4}-\d{2}-\d{2})/", 1))


def with_ingestion_metadata(ingested_at: datetime) -> Transform:
    """Return a transform adding the batch (from the landing folder) and the ingestion time."""

    def add(df: DataFrame) -> DataFrame:
        batch_date = batch_date_from_path(F.col("_source_file"))
        return df.withColumns(
            {
                "_batch_date": batch_date,
                "_batch_id": F.date_format(batch_date, "yyyyMMdd").cast("int"),
                "_ingested_at": F.lit(ingested_at).cast("timestamp"),
            }
        )

    return add


def parse_json_lines(fields: Sequence[str]) -> Transform:
    """Return a transform turning JSON lines (`value`) into one string column per field.

    Keys the contract does not know go to `_extra_fields` (a map, null when there are none). A line that is not a
    JSON object gets `_error` set to why; parsed lines get `_error` null.
    """
    known = F.array(*(F.lit(f) for f in fields))

    def parse(df: DataFrame) -> DataFrame:
        record = F.from_json(F.col("value"), T.MapType(T.StringType(), T.StringType()))
        parsed = df.withColumn("_record", record)
        # map_filter runs interpreted, so it only runs on the (rare) records that have keys beyond the contract.
        unknown = F.array_except(F.map_keys("_record"), known)
        extras = F.when(F.size(unknown) > 0, F.map_filter("_record", lambda k, _: ~F.array_contains(known, k)))
        trimmed = F.trim(F.col("value"))
        error = (
            F.when(F.col("_record").isNotNull(), F.lit(None).cast("string"))
            .when(trimmed == "", F.lit("blank line"))
            .when(trimmed.startswith("{"), F.lit("malformed JSON"))
            .otherwise(F.lit("not a JSON object"))
        )
        return parsed.select(
            *(F.col("_record")[f].alias(f) for f in fields),
            extras.alias("_extra_fields"),
            # The raw text is only kept where it is needed: for lines that go to quarantine.
            F.when(error.isNotNull(), F.col("value")).alias("_raw"),
            error.alias(ERROR),
            *(c for c in parsed.columns if c.startswith("_source")),
        )

    return parse


def flag_csv_errors(fields: Sequence[str]) -> Transform:
    """Return a transform that sets `_error` on CSV rows Spark could not split into exactly `fields`."""

    def flag(df: DataFrame) -> DataFrame:
        error = F.when(
            F.col("_corrupt_record").isNotNull(), F.lit(f"CSV row does not have {len(fields)} fields")
        ).otherwise(F.lit(None).cast("string"))
        return df.select(
            *fields,
            F.lit(None).cast(T.MapType(T.StringType(), T.StringType())).alias("_extra_fields"),
            F.col("_corrupt_record").alias("_raw"),
            error.alias(ERROR),
            *(c for c in df.columns if c.startswith("_source")),
        )

    return flag


def bronze_columns(fields: Sequence[str]) -> list[str]:
    """Return the columns of a feed's bronze table, in order."""
    return [*fields, "_extra_fields", *METADATA_COLUMNS]


QUARANTINE_COLUMNS = ("entity", "reason", "raw", *METADATA_COLUMNS)


def for_quarantine(entity: str) -> Transform:
    """Return a transform adding the quarantine columns (entity, reason, raw text) to parsed rows.

    Rows without an `_error` keep them null; the pipeline sends rows with a reason to `bronze.quarantine` and the
    others to the feed's bronze table, from one pass over the data.
    """

    def add(df: DataFrame) -> DataFrame:
        return df.withColumns(
            {
                "entity": F.when(F.col(ERROR).isNotNull(), F.lit(entity)),
                "reason": F.col(ERROR),
                "raw": F.col("_raw"),
            }
        )

    return add

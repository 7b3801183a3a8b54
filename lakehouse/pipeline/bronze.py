"""Bronze: landing files into append-only Delta tables, one per source feed, with ingestion metadata.

A record that cannot be parsed goes to `bronze.quarantine` with its raw text and the reason. Each feed's batches
(landing days) are committed with an application transaction, so a batch is ingested exactly once.
"""

from __future__ import annotations

import csv
import io

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.entities import ENTITIES, Entity
from lakehouse.errors import PipelineError
from lakehouse.pipeline.context import RunContext, StepResult, batch_id
from lakehouse.rows import split
from lakehouse.tables import Commit, TableSpec
from lakehouse.transforms import bronze as tf

QUARANTINE = TableSpec(
    "bronze.quarantine",
    "Landing records that could not be parsed: the raw text, the reason, and where it came from.",
    partition_by=("entity",),
)


def table_spec(entity: Entity) -> TableSpec:
    """Return the bronze table of a feed: its fields as text, unknown fields, and ingestion metadata."""
    return TableSpec(
        f"bronze.{entity.name}",
        f"Raw {entity.description}; every field as delivered (text), partitioned by landing day.",
        partition_by=("_batch_date",),
    )


TABLES = (*(table_spec(e) for e in ENTITIES), QUARANTINE)


def _source_file() -> F.Column:
    """Return the file a row was read from, named as the warehouse names it (no file: scheme, s3:// not s3a://)."""
    path = F.regexp_replace(F.col("_metadata.file_path"), r"^file:(//)?", "")
    return F.regexp_replace(path, r"^s3a://", "s3://")


def _check_csv_headers(ctx: RunContext, entity: Entity, files: list[str]) -> None:
    """Fail with the file's name when a CSV export's header is not the contract's columns."""
    expected = list(entity.fields)
    for uri in files:
        with ctx.warehouse.fs.open_input_stream(ctx.warehouse.fs_path(uri)) as stream:
            first = stream.read(64 * 1024).decode("utf-8-sig", errors="replace").splitlines()[:1]
        header = next(csv.reader(io.StringIO(first[0]))) if first else []
        if header != expected:
            raise PipelineError(
                f"{uri}: header is {header or 'missing'}, expected {expected}; "
                "fix the export or update lakehouse/entities.py and the bronze schema together"
            )


def read_landing(ctx: RunContext, entity: Entity, files: list[str]) -> DataFrame:
    """Return the landing files as parsed rows with `_error`, `_raw`, `_source_file` and `_source_line`."""
    spark = ctx.spark
    paths = [ctx.warehouse.spark_uri(f) for f in files]
    if entity.format == "csv":
        _check_csv_headers(ctx, entity, files)
        schema = T.StructType(
            [T.StructField(f, T.StringType()) for f in entity.fields]
            + [T.StructField("_corrupt_record", T.StringType())]
        )
        raw = (
            spark.read.schema(schema)
            .option("header", True)
            .option("escape", '"')
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", "_corrupt_record")
            .csv(paths)
            .withColumn("_source_file", _source_file())
        )
        # The header is line 1 of a CSV file; data rows start at line 2.
        return (
            raw.transform(tf.with_line_numbers)
            .withColumn("_source_line", F.col("_source_line") + 1)
            .transform(tf.flag_csv_errors(entity.fields))
        )
    raw = spark.read.text(paths).withColumn("_source_file", _source_file())
    return raw.transform(tf.with_line_numbers).transform(tf.parse_json_lines(entity.fields))


def ingest(ctx: RunContext, entity: Entity) -> StepResult:
    """Ingest every landing batch of `entity` newer than the bronze table's watermark."""
    spec = table_spec(entity)
    step = spec.name
    result = StepResult(step=step, table=spec.name)
    done = ctx.tables.watermark(spec.name, step) or 0
    days = [d for d in ctx.warehouse.landing_days(entity.name) if batch_id(d) > done]
    if not days:
        result.status = "skipped"
        return result
    files = [f for d in days for f in ctx.warehouse.landing_files(entity.name, d)]
    result.batch_from, result.batch_to = batch_id(days[0]), batch_id(days[-1])
    if not files:
        result.status = "skipped"
        result.notes.append(f"landing folders for {days[0]}..{days[-1]} are empty")
        return result

    columns = tf.bronze_columns(entity.fields)
    parsed = (
        read_landing(ctx, entity, files)
        .transform(tf.with_ingestion_metadata(ctx.started_at))
        .transform(tf.for_quarantine(entity.name))
        .select(*dict.fromkeys([*columns, *tf.QUARANTINE_COLUMNS]))
    )
    # One Spark pass; the good and the unusable lines part where the engine holds them.
    rows = ctx.tables.materialize(parsed)
    good, bad = split(rows, "reason", columns, tf.QUARANTINE_COLUMNS)
    commit = Commit(step, result.batch_to)
    quarantined = ctx.tables.append(QUARANTINE, bad, commit=commit, skip_empty=True)
    written = ctx.tables.append(spec, good, commit=commit)
    result.rows_out = written.rows
    result.rows_quarantined = quarantined.rows
    result.rows_in = written.rows + quarantined.rows
    rows.release()
    result.notes.append(f"{len(files)} files, {len(days)} days")
    return result

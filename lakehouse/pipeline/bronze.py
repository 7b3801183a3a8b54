"""Bronze: landing files into append-only Delta tables, one per source feed, with ingestion metadata.

A line that cannot be parsed goes to `bronze.quarantine` with its raw text (its bytes too, when it is not UTF-8) and
the reason; a file that cannot be read at all (a CSV whose header is not the contract's, a compressed file, a JSON
document that is not JSON lines) goes there whole, as one row standing for all its records, and the other files
and feeds go on. A landing folder that is not a day's (`dt=YYYY-MM-DD`) is skipped with a warning naming it. What is
read is decided per file by the landing ledger (`lakehouse/pipeline/landing.py`): each file once, a file delivered
twice counted as duplicates, a changed file quarantined as a conflict. Each batch is committed with an application
transaction, so it is ingested exactly once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import partial

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.entities import ENTITIES, Entity
from lakehouse.pipeline import audit, landing
from lakehouse.pipeline.context import RunContext, Step, StepResult
from lakehouse.rows import split
from lakehouse.tables import Commit, TableSpec
from lakehouse.transforms import bronze as tf
from lakehouse.warehouse import LANDING_LAYOUT

log = logging.getLogger(__name__)

QUARANTINE = TableSpec(
    "bronze.quarantine",
    "Landing records that could not be parsed: the reason, the raw text (a preview plus the bytes as base64 where "
    "they are not UTF-8), how many records a row stands for (a file quarantined whole: all of them), and the source.",
    partition_by=("entity",),
)
# Bronze steps of different feeds run side by side; one of them brings an older quarantine's columns up to date.
_UPGRADING = threading.Lock()


def table_spec(entity: Entity) -> TableSpec:
    """Return the bronze table of a feed: its fields as text, unknown fields, and ingestion metadata."""
    return TableSpec(
        f"bronze.{entity.name}",
        f"Raw {entity.description}; every field as delivered (text), partitioned by landing day.",
        partition_by=("_batch_date",),
    )


def _source_file() -> F.Column:
    """Return the file a row was read from, named as the warehouse names it (no file: scheme, s3:// not s3a://)."""
    path = F.regexp_replace(F.col("_metadata.file_path"), r"^file:(//)?", "")
    return F.regexp_replace(path, r"^s3a://", "s3://")


@dataclass(frozen=True)
class UnreadableFile:
    """A landing file quarantined whole: why it cannot be read, its first line for a person, its record count."""

    uri: str
    why: str
    first_line: str
    records: int


def unreadable_files(ctx: RunContext, entity: Entity, files: list[str]) -> list[UnreadableFile]:
    """Return the files that cannot be read line by line, judged from their names and first bytes, with why."""
    found = []
    for uri in files:
        head = ctx.warehouse.read_bytes(uri, limit=tf.HEAD_BYTES)
        why = tf.file_problem(entity, uri.rsplit("/", 1)[-1], head)
        if why is not None:
            records = tf.file_records(entity, tf.count_lines(ctx.warehouse.iter_bytes(uri)))
            found.append(UnreadableFile(uri, why, tf.preview(head), records))
    return found


def _lines(ctx: RunContext, files: list[str]) -> DataFrame:
    """Return the lines of `files` as Spark reads them (bytes kept as they are), with `_source_file` and where in
    it the split a task read them from starts."""
    if not files:
        return ctx.spark.createDataFrame([], f"value string, _source_file string, {tf.SPLIT_START} long")
    paths = [ctx.warehouse.spark_uri(f) for f in files]
    lines = ctx.spark.read.text(paths)
    return lines.withColumns({"_source_file": _source_file(), tf.SPLIT_START: F.col("_metadata.file_block_start")})


def read_landing(ctx: RunContext, entity: Entity, files: list[str]) -> DataFrame:
    """Return the landing files' lines as parsed rows with `_error`, `_raw`, `_source_file` and `_source_line`.

    The files must be readable line by line (`unreadable_files` finds those that are not); a CSV file's header was
    checked there and is not a row.
    """
    lines = _lines(ctx, files).transform(tf.with_line_numbers)
    if entity.format == "csv":
        return lines.transform(tf.without_header).transform(tf.parse_csv_lines(entity.fields))
    return lines.transform(tf.parse_json_lines(entity.fields))


def _unreadable_frame(ctx: RunContext, unreadable: list[UnreadableFile]) -> DataFrame:
    rows = [(u.uri, u.first_line, u.why, u.records) for u in unreadable]
    return ctx.spark.createDataFrame(rows, tf.UNREADABLE_FILE_SCHEMA)


def _warn(result: StepResult, message: str) -> None:
    """Log a warning and keep it in the step's notes (the run audit, and the run's output when the step skips)."""
    log.warning("%s: %s", result.step, message)
    result.notes.append(message)


def _upgrade_quarantine(ctx: RunContext) -> None:
    """Give a `bronze.quarantine` written before raw_base64 and records existed today's columns, once (checked once
    a run)."""
    with _UPGRADING:
        if ctx.quarantine_checked or not ctx.tables.exists(QUARANTINE.name):
            return
        ctx.quarantine_checked = True
        columns = ctx.tables.query(QUARANTINE.name, "select * from t limit 0").column_names
        if set(tf.QUARANTINE_COLUMNS) <= set(columns):
            return
        # Computed before the write: the rows come from the table being replaced.
        rows = ctx.tables.materialize(ctx.tables.read(QUARANTINE.name).transform(tf.upgrade_quarantine))
        written = ctx.tables.overwrite(QUARANTINE, rows, replace_schema=True)
        rows.release()
        log.warning("%s: raw_base64 and records added to its %d rows", QUARANTINE.name, written.rows)


def _batches(ctx: RunContext, entity: Entity, done: int, rows: list[dict]) -> list[tuple[int, list[landing.Entry]]]:
    """Return the batches to ingest, from the feed's ledger `rows`: files a stopped run claimed (under its batch),
    then new files (under the run's batch, claimed in the ledger here) of the days the run's pass takes."""
    batches = landing.unfinished(rows, done)
    new = landing.new_files(ctx.warehouse, entity, rows, ctx.landing_until)
    if new:
        batch = landing.run_batch(ctx)
        landing.claim(ctx, entity, batch, new)
        batches.append((batch, new))
    return batches


def ingest(ctx: RunContext, entity: Entity) -> StepResult:
    """Ingest every landing file of `entity` the ledger has not taken yet (`lakehouse/pipeline/landing.py`)."""
    spec = table_spec(entity)
    result = StepResult(step=spec.name, table=spec.name)
    for stray in ctx.warehouse.unrecognised_landing(entity.name):
        _warn(result, f"skipped {stray.uri}: {stray.why}; the pipeline reads {LANDING_LAYOUT}")
    done = ctx.tables.watermark(spec.name, spec.name) or 0
    lost = audit.unrecorded(ctx, spec.name, spec.name, done)
    rows = landing.recorded(ctx.tables, entity.name)  # read once: what stopped runs claimed, and what is known
    adopted = landing.adopt(ctx, entity, done, rows)
    if adopted:
        _warn(result, f"{adopted} files ingested before {landing.LEDGER.name} existed recorded there, not read again")
        rows = landing.recorded(ctx.tables, entity.name)
    batches = _batches(ctx, entity, done, rows)
    if not batches:
        if lost is not None:  # a run committed the batches, then stopped before recording them
            lost.notes.extend(result.notes)
            return lost
        result.status = "skipped"
        return result
    for batch, entries in batches:
        _take(ctx, entity, batch, entries, result)
    if lost is not None:  # and the batches a stopped run committed before these, recorded with them
        result.absorb(lost)
    return result


def _set_aside(ctx: RunContext, result: StepResult, entries: list[landing.Entry]) -> list[UnreadableFile]:
    """Warn of the files a batch does not read (duplicates, unchanged, conflicts), count the duplicates' records,
    and return the conflicts, to be quarantined whole."""
    conflicts = []
    for e in entries:
        if e.status == landing.INGESTED:
            continue
        _warn(result, f"set aside {e.file.uri} as {e.status} ({e.records} records): {e.reason}")
        if e.status == landing.DUPLICATE:
            result.rows_duplicate += e.records
            result.rows_in += e.records
        elif e.status == landing.CONFLICT:
            head = tf.preview(ctx.warehouse.read_bytes(e.file.uri, limit=tf.HEAD_BYTES))
            conflicts.append(UnreadableFile(e.file.uri, e.reason or landing.CONFLICT, head, e.records))
    return conflicts


def _take(ctx: RunContext, entity: Entity, batch: int, entries: list[landing.Entry], result: StepResult) -> None:
    """Read a batch's files into bronze and its quarantine under `batch`, adding what it did to `result`."""
    spec = table_spec(entity)
    result.batch_from, result.batch_to = result.batch_from or batch, batch
    conflicts = _set_aside(ctx, result, entries)
    files = [e.file.uri for e in entries if e.status == landing.INGESTED]
    unreadable = unreadable_files(ctx, entity, files)
    for u in unreadable:
        _warn(result, f"quarantined {u.uri} whole ({u.records} records): {u.why}")
    skipped = {u.uri for u in unreadable}
    unreadable += conflicts
    readable = [f for f in files if f not in skipped]
    columns = tf.bronze_columns(entity.fields)
    lines = read_landing(ctx, entity, readable)
    # Most batches have no unreadable file: their plan then has no second (local) source to union with.
    whole = _unreadable_frame(ctx, unreadable) if unreadable else None
    parsed = (
        lines.transform(tf.with_unreadable_files(whole))
        .transform(tf.with_ingestion_metadata(ctx.started_at, batch))
        .transform(tf.for_quarantine(entity.name))
        .select(*dict.fromkeys([*columns, *tf.QUARANTINE_COLUMNS]))
    )
    # One Spark pass; the good and the unusable lines part where the engine holds them.
    rows = ctx.tables.materialize(parsed)
    good, bad = split(rows, "reason", columns, tf.QUARANTINE_COLUMNS)
    commit = Commit(spec.name, batch)
    _upgrade_quarantine(ctx)
    ctx.tables.append(QUARANTINE, bad, commit=commit, skip_empty=True)
    # A file quarantined whole is one row standing for all its records: the step counts records.
    quarantined = bad.num_rows - len(unreadable) + sum(u.records for u in unreadable)
    result.rows_quarantined += quarantined
    result.rows_in += good.num_rows + quarantined
    written = ctx.tables.append(spec, good, commit=audit.closing(commit, result, result.rows_out + good.num_rows))
    result.rows_out += written.rows
    rows.release()
    days = {e.file.day for e in entries}
    result.notes.append(f"batch {batch}: {len(entries)} files, {len(days)} days ({min(days)}..{max(days)})")


# One step per feed; they run side by side, each appending to the shared quarantine and landing ledger.
STEPS = tuple(
    Step(
        f"bronze.{feed.name}",
        partial(ingest, entity=feed),
        reads=(landing.LEDGER.name,),
        writes=(table_spec(feed).name, QUARANTINE.name, landing.LEDGER.name),
        marker=table_spec(feed).name,
    )
    for feed in ENTITIES
)

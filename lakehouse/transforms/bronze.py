"""Bronze transforms: landing lines to string columns plus ingestion metadata, and the reason a line (or a whole
file) is unusable.

Bronze keeps every field as the text that arrived, so nothing is lost to a cast; silver types and validates. Lines
are read as bytes: a line that is not valid UTF-8 is quarantined with its exact bytes (base64) and a readable
preview, never decoded with replacement characters into bronze, nor stored as invalid text no engine can read.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.entities import Entity

Transform = Callable[[DataFrame], DataFrame]

ERROR = "_error"
RECORDS = "_records"
METADATA_COLUMNS = ("_source_file", "_source_line", "_batch_id", "_batch_date", "_ingested_at")

INVALID_UTF8 = "not valid UTF-8"
BLANK_LINE = "blank line"
PREVIEW_CHARS = 200  # how much of a line that is not text the quarantine shows as text
HEAD_BYTES = 64 * 1024  # how much of a file is read to judge whether it can be read line by line


# -- text that may not be text ----------------------------------------------------------------------------------------
def invalid_utf8(text: Column) -> Column:
    """Return true where a line's bytes are not valid UTF-8 (Spark reads lines as bytes and keeps them as they are)."""
    return ~F.is_valid_utf8(text)


def readable(text: Column) -> Column:
    """Return the text itself where it is valid UTF-8, else a preview: decoded with replacement characters and cut to
    PREVIEW_CHARS, so every engine can read it."""
    return F.when(invalid_utf8(text), F.left(F.make_valid_utf8(text), F.lit(PREVIEW_CHARS))).otherwise(text)


def exact_bytes(text: Column) -> Column:
    """Return the bytes of a line that is not valid UTF-8 as base64 (null for valid text, which is kept as text)."""
    return F.when(invalid_utf8(text), F.base64(text.cast("binary")))


SPLIT_START = "_split_start"


def with_line_numbers(df: DataFrame) -> DataFrame:
    """Return `df` (lines as the text reader gives them, with `_source_file` and `SPLIT_START`, the byte offset of
    the part of the file a task read them from) plus `_source_line`, 1-based within each file.

    A task reads its splits line by line, in order, and `monotonically_increasing_id` numbers a task's rows one after
    another: a line's number is its place in its split plus the lines of the file's earlier splits. Only a row per
    split is gathered (and broadcast), never a file's lines into one task to be sorted, so what a task holds does
    not grow with the size of a file. The lines are read twice: once to count each split's, once to number them.
    """
    ordered = df.withColumn("_read_order", F.monotonically_increasing_id())
    earlier = Window.partitionBy("_source_file").orderBy(SPLIT_START).rowsBetween(Window.unboundedPreceding, -1)
    splits = (
        ordered.groupBy("_source_file", SPLIT_START)
        .agg(F.min("_read_order").alias("_first"), F.count(F.lit(1)).alias("_lines"))
        .withColumn("_before", F.coalesce(F.sum("_lines").over(earlier), F.lit(0)))
        .drop("_lines")
    )
    line = F.col("_read_order") - F.col("_first") + F.col("_before") + 1
    return ordered.join(F.broadcast(splits), ["_source_file", SPLIT_START]).select(
        *(c for c in df.columns if c != SPLIT_START), line.cast("int").alias("_source_line")
    )


def batch_date_from_path(path: Column) -> Column:
    """Return the batch day encoded in a landing path's `dt=YYYY-MM-DD` folder."""
    return F.to_date(F.regexp_extract(path, r"/dt=(\d{4}-\d{2}-\d{2})/", 1))


def with_ingestion_metadata(ingested_at: datetime, batch: int) -> Transform:
    """Return a transform adding the batch that took the rows, their landing day (from the landing folder) and the
    ingestion time."""

    def add(df: DataFrame) -> DataFrame:
        return df.withColumns(
            {
                "_batch_date": batch_date_from_path(F.col("_source_file")),
                "_batch_id": F.lit(batch).cast("int"),
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
        as_map = T.MapType(T.StringType(), T.StringType())
        record = F.from_json(F.col("value"), as_map)  # type: ignore[arg-type]  # takes a MapType too; the stubs omit it
        parsed = df.withColumn("_record", record)
        # map_filter runs interpreted, so it only runs on the (rare) records that have keys beyond the contract.
        unknown = F.array_except(F.map_keys("_record"), known)
        extras = F.when(F.size(unknown) > 0, F.map_filter("_record", lambda k, _: ~F.array_contains(known, k)))
        trimmed = F.trim(F.col("value"))
        error = (
            F.when(invalid_utf8(F.col("value")), F.lit(INVALID_UTF8))
            .when(F.col("_record").isNotNull(), F.lit(None).cast("string"))
            .when(trimmed == "", F.lit(BLANK_LINE))
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


def without_header(df: DataFrame) -> DataFrame:
    """Return numbered CSV lines without each file's header (its line 1, checked before the file was read)."""
    return df.where(F.col("_source_line") > 1)


def parse_csv_lines(fields: Sequence[str]) -> Transform:
    """Return a transform turning CSV lines (`value`, header removed) into one string column per field.

    A line that is not valid UTF-8, is blank, or does not split into exactly `fields` gets `_error` set to why (and
    `_raw`, the line); the others get `_error` null. Quoting is the exports': `"` quotes and doubles itself.
    """
    schema = ", ".join(f"`{f}` string" for f in [*fields, "_corrupt_record"])
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt_record", "escape": '"'}

    def parse(df: DataFrame) -> DataFrame:
        parsed = df.withColumn("_record", F.from_csv(F.col("value"), schema, options))
        error = (
            F.when(invalid_utf8(F.col("value")), F.lit(INVALID_UTF8))
            .when(F.trim(F.col("value")) == "", F.lit(BLANK_LINE))
            .when(F.col("_record._corrupt_record").isNotNull(), F.lit(f"CSV row does not have {len(fields)} fields"))
            .otherwise(F.lit(None).cast("string"))
        )
        return parsed.select(
            *(F.col("_record")[f].alias(f) for f in fields),
            F.lit(None).cast(T.MapType(T.StringType(), T.StringType())).alias("_extra_fields"),
            F.when(error.isNotNull(), F.col("value")).alias("_raw"),
            error.alias(ERROR),
            *(c for c in parsed.columns if c.startswith("_source")),
        )

    return parse


def bronze_columns(fields: Sequence[str]) -> list[str]:
    """Return the columns of a feed's bronze table, in order."""
    return [*fields, "_extra_fields", *METADATA_COLUMNS]


# raw: the line as text (a preview where it is not valid UTF-8); raw_base64: its exact bytes where it is not;
# records: the landing records the row stands for (1 for a line, all of a file's records for a file quarantined whole).
QUARANTINE_COLUMNS = ("entity", "reason", "raw", "raw_base64", "records", *METADATA_COLUMNS)
UNREADABLE_FILE_SCHEMA = "_source_file string, _raw string, _error string, _records int"


def with_unreadable_files(files: DataFrame | None) -> Transform:
    """Return a transform adding to parsed lines (one record each) a row per file quarantined whole.

    `files` has UNREADABLE_FILE_SCHEMA: the file, a preview of its first line, why it cannot be read, and how many
    records it holds. Such a row is the file's line 1: where reading it stopped. None stands for no such file.
    """

    def add(df: DataFrame) -> DataFrame:
        lines = df.withColumn(RECORDS, F.lit(1))
        if files is None:
            return lines
        whole = files.withColumn("_source_line", F.lit(1))
        return lines.unionByName(whole, allowMissingColumns=True)

    return add


def for_quarantine(entity: str) -> Transform:
    """Return a transform adding the quarantine columns (entity, reason, raw text, raw bytes, records) to parsed rows.

    Rows without an `_error` keep them null; the pipeline sends rows with a reason to `bronze.quarantine` and the
    others to the feed's bronze table, from one pass over the data.
    """

    def add(df: DataFrame) -> DataFrame:
        broken = F.col(ERROR).isNotNull()
        return df.withColumns(
            {
                "entity": F.when(broken, F.lit(entity)),
                "reason": F.col(ERROR),
                "raw": readable(F.col("_raw")),
                "raw_base64": exact_bytes(F.col("_raw")),
                "records": F.when(broken, F.col(RECORDS)),
            }
        )

    return add


def upgrade_quarantine(df: DataFrame) -> DataFrame:
    """Return rows of a quarantine written before raw_base64 and records existed, in today's columns: each row a
    line, and a raw line that is not valid UTF-8 turned into its preview and its bytes."""
    return df.withColumns(
        {
            "raw": readable(F.col("raw")),
            "raw_base64": exact_bytes(F.col("raw")),
            "records": F.lit(1),
        }
    ).select(*QUARANTINE_COLUMNS)


# -- whole files ------------------------------------------------------------------------------------------------------
_COMPRESSED = {b"\x1f\x8b\x08": "gzip", b"PK\x03\x04": "zip", b"\x28\xb5\x2f\xfd": "zstd"}
# Spark's readers decompress a file by these endings, whatever it holds: such a file is never read as plain lines.
_COMPRESSED_NAMES = (".gz", ".bz2", ".deflate", ".lz4", ".snappy", ".zst")


def _utf16(head: bytes) -> bool:
    """Return true when a file starts as UTF-16 text does: a byte-order mark, then a character of Basic Latin (a
    zero byte beside it); binary garbage that merely starts with the mark's bytes is judged line by line."""
    if head.startswith(b"\xff\xfe"):
        return head[3:4] == b"\x00" and head[2:3] != b"\x00"
    if head.startswith(b"\xfe\xff"):
        return head[2:3] == b"\x00" and head[3:4] != b"\x00"
    return False


def file_problem(entity: Entity, name: str, head: bytes) -> str | None:
    """Return why a landing file of `entity` cannot be read line by line, judged from its name and first bytes
    (HEAD_BYTES of them), or None when it can. A file with a problem is quarantined whole: none of its lines reach
    bronze."""
    plain = f"the {entity.name} feed takes plain UTF-8 .{entity.extension} files"
    if name.endswith(_COMPRESSED_NAMES):
        return f"unreadable file: named as compressed ({name}); {plain}"
    for magic, kind in _COMPRESSED.items():
        if head.startswith(magic):
            return f"unreadable file: {kind}-compressed; {plain}"
    if _utf16(head):
        return f"unreadable file: UTF-16 text; {plain}"
    if entity.format == "csv":
        return _header_problem(entity, head)
    return _json_lines_problem(head)


def _header_problem(entity: Entity, head: bytes) -> str | None:
    """Return why a CSV file's first line is not the contract's header (None when it is)."""
    lines = head.splitlines()
    if not lines:
        return "unreadable file: empty, without the CSV header"
    try:
        text = lines[0].decode("utf-8-sig")
    except UnicodeDecodeError:
        return "unreadable file: the CSV header is not UTF-8 text"
    header = next(csv.reader([text]), [])
    expected = list(entity.fields)
    if header == expected:
        return None
    missing = [c for c in expected if c not in header]
    unexpected = [c for c in header if c not in expected]
    parts = [
        f"missing {', '.join(missing)}" if missing else "",
        f"unexpected {', '.join(unexpected)}" if unexpected else "",
    ]
    difference = "; ".join(p for p in parts if p) or "the same columns, repeated or in another order"
    return (
        f"unreadable file: the CSV header does not match the {entity.name} contract ({difference}); "
        "fix the export, or change lakehouse/entities.py and the bronze table together"
    )


def _json_lines_problem(head: bytes) -> str | None:
    """Return why a file is not JSON lines at all (None when its lines can be judged one by one)."""
    start = head.lstrip()
    if start.startswith(b"["):
        return "unreadable file: a JSON array, not JSON lines; write one JSON object per line"
    if start.split(b"\n", 1)[0].strip() == b"{":
        return "unreadable file: one JSON document over many lines, not JSON lines; write one JSON object per line"
    return None


def count_lines(chunks: Iterable[bytes]) -> int:
    """Return how many lines the bytes of `chunks`, joined, hold, as `bytes.splitlines` and Spark's text reader count
    them (a line ends at \\n, \\r\\n or \\r), without joining them."""
    count, last = 0, b""
    for chunk in chunks:
        if not chunk:
            continue
        count += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
        if last == b"\r" and chunk.startswith(b"\n"):
            count -= 1  # a \r\n split between two chunks ends one line
        last = chunk[-1:]
    return count + (1 if last and last not in (b"\n", b"\r") else 0)


def file_records(entity: Entity, lines: int) -> int:
    """Return the landing records a file of `lines` lines holds: its lines, less a CSV file's header."""
    return max(lines - 1, 0) if entity.format == "csv" else lines


def preview(head: bytes) -> str:
    """Return a file's first line as text a person can read: decoded with replacement characters, cut short."""
    first = head.splitlines()[:1]
    return first[0].decode("utf-8", errors="replace")[:PREVIEW_CHARS] if first else ""

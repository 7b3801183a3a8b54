import base64
from datetime import datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from lakehouse.entities import CUSTOMERS, ORDERS
from lakehouse.transforms import bronze as tf

FILE = "/wh/landing/orders/dt=2026-01-02/orders_20260102.jsonl"
CSV_FILE = "/wh/landing/customers/dt=2026-01-02/customers_20260102.csv"


def _lines(spark, lines: list[bytes], path: str = FILE):
    """Return lines as Spark's text reader gives them: bytes kept as they are, not decoded (binary cast to string)."""
    rows = [(line, path, n) for n, line in enumerate(lines, start=1)]
    frame = spark.createDataFrame(rows, "raw binary, _source_file string, _source_line int")
    return frame.select(F.col("raw").cast("string").alias("value"), "_source_file", "_source_line")


def test_parse_json_lines_splits_fields_and_keeps_unknown_ones(spark):
    lines = spark.createDataFrame(
        [('{"id": "a1", "qty": 3, "note": "gift"}', FILE, 1), ('{"id": "a2", "qty": "three"}', FILE, 2)],
        "value string, _source_file string, _source_line int",
    )
    parsed = lines.transform(tf.parse_json_lines(["id", "qty"])).select(
        "id", "qty", F.to_json("_extra_fields").alias("extra"), "_error"
    )
    expected = spark.createDataFrame(
        [("a1", "3", '{"note":"gift"}', None), ("a2", "three", None, None)],
        "id string, qty string, extra string, _error string",
    )
    assert_df_equality(parsed, expected, ignore_row_order=True, ignore_nullable=True)


def test_parse_json_lines_gives_the_reason_a_line_is_unusable(spark):
    lines = spark.createDataFrame(
        [('{"id": "a1", "qty"', FILE, 1), ("[1, 2]", FILE, 2), ("   ", FILE, 3)],
        "value string, _source_file string, _source_line int",
    )
    parsed = lines.transform(tf.parse_json_lines(["id", "qty"])).select("_raw", "_error")
    expected = spark.createDataFrame(
        [('{"id": "a1", "qty"', "malformed JSON"), ("[1, 2]", "not a JSON object"), ("   ", "blank line")],
        "_raw string, _error string",
    )
    assert_df_equality(parsed, expected, ignore_row_order=True, ignore_nullable=True)


def test_line_numbers_count_within_each_file(spark):
    other = FILE.replace("orders_", "more_")
    lines = spark.createDataFrame(
        [("a", FILE, 0), ("b", FILE, 0), ("d", FILE, 0), ("c", other, 0)],  # a task reads a split through
        f"value string, _source_file string, {tf.SPLIT_START} long",
    ).coalesce(1)
    numbered = lines.transform(tf.with_line_numbers)
    expected = spark.createDataFrame(
        [("a", FILE, 1), ("b", FILE, 2), ("d", FILE, 3), ("c", other, 1)],
        "value string, _source_file string, _source_line int",
    )
    assert_df_equality(numbered, expected, ignore_row_order=True, ignore_nullable=True)


def test_line_numbers_run_on_across_the_splits_a_file_is_read_in(spark, tmp_path):
    """A file larger than a split is read by several tasks: its lines are numbered as in the file all the same."""
    big, small = tmp_path / "big.jsonl", tmp_path / "small.jsonl"
    big.write_text("".join(f"big {n:05d}\n" for n in range(1, 2001)))  # 20,000 bytes
    small.write_text("small 1\nsmall 2\n")
    before = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "3000")
    try:
        read = spark.read.text([str(big), str(small)]).withColumns(
            {"_source_file": F.col("_metadata.file_name"), tf.SPLIT_START: F.col("_metadata.file_block_start")}
        )
        splits = read.select("_source_file", tf.SPLIT_START).distinct().count()
        numbered = read.transform(tf.with_line_numbers).collect()
    finally:
        spark.conf.set("spark.sql.files.maxPartitionBytes", before)
    assert splits > 5  # the big file really was read in parts
    assert sorted((r._source_file, r._source_line, r.value) for r in numbered) == [
        *(("big.jsonl", n, f"big {n:05d}") for n in range(1, 2001)),
        ("small.jsonl", 1, "small 1"),
        ("small.jsonl", 2, "small 2"),
    ]


def test_ingestion_metadata_has_the_batch_and_the_landing_day_from_the_folder(spark):
    rows = spark.createDataFrame([(FILE,)], "_source_file string")
    at = datetime(2026, 1, 3, 4, 5, 6)
    out = rows.transform(tf.with_ingestion_metadata(at, 7)).select("_batch_id", "_batch_date", "_ingested_at")
    row = out.first()
    assert row["_batch_id"] == 7
    assert str(row["_batch_date"]) == "2026-01-02"
    assert row["_ingested_at"] == at


def test_csv_lines_split_into_fields_and_say_why_a_line_is_unusable(spark):
    lines = _lines(spark, [b'1,"Ann ""A"" Lee"', b"2", b"3,x,y", b"  ", b"4,H\xe9bert", b'5,"Hu, Li"'], CSV_FILE)
    parsed = lines.transform(tf.parse_csv_lines(["id", "name"])).select("id", "name", "_error")
    expected = spark.createDataFrame(
        [
            ("1", 'Ann "A" Lee', None),
            (None, None, "CSV row does not have 2 fields"),
            (None, None, "CSV row does not have 2 fields"),
            (None, None, "blank line"),
            (None, None, "not valid UTF-8"),
            ("5", "Hu, Li", None),
        ],
        "id string, name string, _error string",
    )
    unusable_fields_nulled = parsed.withColumns({c: F.when(F.col("_error").isNull(), F.col(c)) for c in ("id", "name")})
    assert_df_equality(unusable_fields_nulled, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_csv_file_s_header_is_not_a_row(spark):
    lines = _lines(spark, [b"id,name", b"1,Ann"], CSV_FILE)
    assert [r["_source_line"] for r in lines.transform(tf.without_header).collect()] == [2]


def test_json_lines_that_are_not_utf8_are_unusable_whatever_they_hold(spark):
    lines = _lines(spark, [b'{"id": "H\xe9bert"}', b"\xff\xfe\x00\x01garbage", b'{"id": "ok \xc3\xa9"}'])
    parsed = lines.transform(tf.parse_json_lines(["id"])).select("_source_line", "id", "_error")
    errors = {r["_source_line"]: r["_error"] for r in parsed.collect()}
    assert errors == {1: "not valid UTF-8", 2: "not valid UTF-8", 3: None}
    assert parsed.where("_source_line = 3").first()["id"] == "ok é"


def test_quarantine_columns_are_set_only_for_unusable_lines(spark):
    parsed = spark.createDataFrame(
        [("x", None, None, FILE, 1, 1), (None, "bad", "malformed JSON", FILE, 2, 1)],
        "id string, _raw string, _error string, _source_file string, _source_line int, _records int",
    )
    out = parsed.transform(tf.for_quarantine("orders")).select(
        "id", "entity", "reason", "raw", "raw_base64", "records", "_source_line"
    )
    expected = spark.createDataFrame(
        [("x", None, None, None, None, None, 1), (None, "orders", "malformed JSON", "bad", None, 1, 2)],
        "id string, entity string, reason string, raw string, raw_base64 string, records int, _source_line int",
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_line_that_is_not_utf8_is_quarantined_with_its_bytes_and_a_readable_preview(spark):
    garbage = b"\xff\xd8\x00" + "é".encode() * 300 + b"\x80"
    lines = _lines(spark, [garbage]).withColumns(
        {"_raw": F.col("value"), "_error": F.lit(tf.INVALID_UTF8), "_records": F.lit(1)}
    )
    row = lines.transform(tf.for_quarantine("orders")).first()
    assert base64.b64decode(row["raw_base64"]) == garbage
    assert row["raw"] == garbage.decode("utf-8", errors="replace")[: tf.PREVIEW_CHARS]
    assert row["raw"].startswith("\ufffd\ufffd\x00é") and len(row["raw"]) == tf.PREVIEW_CHARS


def test_files_quarantined_whole_are_one_row_at_line_1_standing_for_their_records(spark):
    lines = spark.createDataFrame(
        [("a", None, None, FILE, 1)], "id string, _raw string, _error string, _source_file string, _source_line int"
    )
    other = FILE.replace("orders_", "export_")
    files = spark.createDataFrame([(other, "[{", "unreadable file: a JSON array", 41)], tf.UNREADABLE_FILE_SCHEMA)
    out = lines.transform(tf.with_unreadable_files(files)).select(
        "id", "_error", "_records", "_source_file", "_source_line"
    )
    expected = spark.createDataFrame(
        [("a", None, 1, FILE, 1), (None, "unreadable file: a JSON array", 41, other, 1)],
        "id string, _error string, _records int, _source_file string, _source_line int",
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_without_unreadable_files_each_line_stands_for_one_record(spark):
    lines = spark.createDataFrame([("a", FILE, 2)], "id string, _source_file string, _source_line int")
    out = lines.transform(tf.with_unreadable_files(None))
    expected = spark.createDataFrame(
        [("a", FILE, 2, 1)], "id string, _source_file string, _source_line int, _records int"
    )
    assert_df_equality(out, expected, ignore_nullable=True)


def test_an_older_quarantine_gets_todays_columns_and_its_undecodable_lines_made_readable(spark):
    old = spark.createDataFrame(
        [
            ("orders", "malformed JSON", b"{x", FILE, 2, 20260102),
            ("orders", "malformed JSON", b"\xe9{", FILE, 3, 20260102),
        ],
        "entity string, reason string, raw binary, _source_file string, _source_line int, _batch_id int",
    ).withColumns(
        {
            "raw": F.col("raw").cast("string"),
            "_batch_date": F.to_date(F.lit("2026-01-02")),
            "_ingested_at": F.lit(datetime(2026, 1, 3)).cast("timestamp"),
        }
    )
    upgraded = old.transform(tf.upgrade_quarantine)
    assert upgraded.columns == list(tf.QUARANTINE_COLUMNS)
    rows = {r["_source_line"]: (r["raw"], r["raw_base64"], r["records"]) for r in upgraded.collect()}
    assert rows == {2: ("{x", None, 1), 3: ("\ufffd{", base64.b64encode(b"\xe9{").decode(), 1)}


# -- whole files ---------------------------------------------------------------------------------------------------
HEADER = ",".join(CUSTOMERS.fields).encode()


@pytest.mark.parametrize(
    ("head", "problem"),
    [
        (HEADER + b"\r\n1,2\r\n", None),
        (b"\xef\xbb\xbf" + HEADER + b"\n", None),  # a byte-order mark before the header is fine
        (b"", "unreadable file: empty, without the CSV header"),
        (b"id,name\n1,Ada\n", "(missing customer_id, first_name"),
        (HEADER + b",loyalty_tier\n", "(unexpected loyalty_tier)"),
        (HEADER.replace(b"first_name,last_name", b"last_name,first_name") + b"\n", "repeated or in another order"),
        (b"customer_id,H\xe9bert\n", "the CSV header is not UTF-8 text"),
        (b"\x1f\x8b\x08\x00" + HEADER, "unreadable file: gzip-compressed; the customers feed takes plain UTF-8 .csv"),
        ("customer_id".encode("utf-16"), "unreadable file: UTF-16 text"),
    ],
)
def test_a_csv_file_is_readable_only_with_the_contract_s_header(head, problem):
    found = tf.file_problem(CUSTOMERS, "customers_20260102.csv", head)
    assert found == problem if problem is None else problem in found


@pytest.mark.parametrize(
    ("head", "problem"),
    [
        (b'{"order_id": "O1"}\n{"order_id": "O2"}\n', None),
        (b"\xff\xfe\x00garbage\n", None),  # binary lines are judged (and quarantined) one by one
        ('{"order_id": "O1"}\n'.encode("utf-16"), "unreadable file: UTF-16 text"),
        ('{"order_id": "O1"}\n'.encode("utf-16-be"), None),  # no byte-order mark: line by line, not UTF-8
        (b"", None),
        (b'  [{"order_id": "O1"},\n {"order_id": "O2"}]', "unreadable file: a JSON array, not JSON lines"),
        (b'{\n  "order_id": "O1"\n}\n', "unreadable file: one JSON document over many lines"),
        (b"PK\x03\x04rest", "unreadable file: zip-compressed; the orders feed takes plain UTF-8 .jsonl files"),
    ],
)
def test_a_json_lines_file_is_unreadable_only_when_it_is_not_lines_at_all(head, problem):
    found = tf.file_problem(ORDERS, "orders_20260102.jsonl", head)
    assert found == problem if problem is None else problem in found


def test_a_file_named_as_compressed_is_unreadable_whatever_it_holds():
    found = tf.file_problem(ORDERS, "orders_20260102.jsonl.gz", b'{"order_id": "O1"}\n')
    assert found is not None and found.startswith("unreadable file: named as compressed (orders_20260102.jsonl.gz)")


@pytest.mark.parametrize(
    "data",
    [b"", b"a", b"a\n", b"a\nb", b"a\r\nb\r\n", b"a\rb\r", b"\n\n\r\r\n", b"a\r", b"\r\n", b"x\xff\r\n\x00\ry"],
)
@pytest.mark.parametrize("size", [1, 2, 3, 64])
def test_lines_are_counted_as_splitlines_counts_them_whatever_the_chunks(data, size):
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    assert tf.count_lines(chunks) == len(data.splitlines())


def test_a_file_s_records_are_its_lines_less_a_csv_header():
    assert (tf.file_records(CUSTOMERS, 5), tf.file_records(CUSTOMERS, 0), tf.file_records(ORDERS, 5)) == (4, 0, 5)
    assert tf.preview(b"\x1f\x8b\x08rest\nmore") == "\x1f\ufffd\x08rest"

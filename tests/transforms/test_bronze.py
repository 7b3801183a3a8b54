from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.transforms import bronze as tf

FILE = "/wh/landing/orders/dt=2026-01-02/orders_20260102.jsonl"


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
        [("a", FILE), ("b", FILE), ("c", other), ("d", FILE)], "value string, _source_file string"
    ).coalesce(1)
    numbered = lines.transform(tf.with_line_numbers)
    expected = spark.createDataFrame(
        [("a", FILE, 1), ("b", FILE, 2), ("c", other, 1), ("d", FILE, 3)],
        "value string, _source_file string, _source_line int",
    )
    assert_df_equality(numbered, expected, ignore_row_order=True, ignore_nullable=True)


def test_ingestion_metadata_comes_from_the_landing_folder(spark):
    rows = spark.createDataFrame([(FILE,)], "_source_file string")
    at = datetime(2026, 1, 3, 4, 5, 6)
    out = rows.transform(tf.with_ingestion_metadata(at)).select("_batch_id", "_batch_date", "_ingested_at")
    row = out.first()
    assert row["_batch_id"] == 20260102
    assert str(row["_batch_date"]) == "2026-01-02"
    assert row["_ingested_at"] == at


def test_csv_rows_with_the_wrong_number_of_fields_are_flagged(spark):
    schema = T.StructType(
        [T.StructField(c, T.StringType()) for c in ("id", "name", "_corrupt_record", "_source_file")]
        + [T.StructField("_source_line", T.IntegerType())]
    )
    rows = spark.createDataFrame([("1", "Ann", None, FILE, 2), ("2", None, "2", FILE, 3)], schema)
    flagged = rows.transform(tf.flag_csv_errors(["id", "name"]))
    assert [(r["id"], r["_error"]) for r in flagged.orderBy("id").collect()] == [
        ("1", None),
        ("2", "CSV row does not have 2 fields"),
    ]


def test_quarantine_columns_are_set_only_for_unusable_lines(spark):
    parsed = spark.createDataFrame(
        [("x", None, None, FILE, 1), (None, "bad", "malformed JSON", FILE, 2)],
        "id string, _raw string, _error string, _source_file string, _source_line int",
    )
    out = parsed.transform(tf.for_quarantine("orders")).select("id", "entity", "reason", "raw", "_source_line")
    expected = spark.createDataFrame(
        [("x", None, None, None, 1), (None, "orders", "malformed JSON", "bad", 2)],
        "id string, entity string, reason string, raw string, _source_line int",
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)

"""Bad input on real files and real Delta tables: text that is not UTF-8, binary garbage, files that cannot be read,
over-long values, day folders that are not days. Each is set aside with its reason and the rest goes on."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import uuid
from datetime import date

import pyarrow.compute as pc
import pytest
from click.testing import CliRunner
from deltalake import DeltaTable
from pyspark.sql import functions as F

from generator import generate
from lakehouse.cli import cli
from lakehouse.entities import EVENTS
from lakehouse.errors import UserError
from lakehouse.pipeline import bronze, runner
from lakehouse.pipeline.context import RunContext
from lakehouse.settings import Settings
from lakehouse.sql import SqlEngine
from lakehouse.tables import Tables
from lakehouse.transforms import bronze as bronze_tf
from lakehouse.warehouse import Warehouse
from tests.accounting import check_bronze

pytestmark = pytest.mark.e2e

SMALL_SHOP = {"customers": 60, "products": 12, "events_per_day": 100, "seed": 5}
CUSTOMER_COLUMNS = (
    "customer_id,first_name,last_name,email,phone,street_address,city,postal_code,country,signup_date,"
    "marketing_opt_in,updated_at"
)
LATIN1_ROW = (
    '"C0009001","Élodie","Hébert","elodie.hebert@example.fr","+33 1 23 45 67","1 rue de la Paix","Paris","75001",'
    '"FR",2024-02-01,true,2026-01-01T10:00:00.000Z'
)
ASCII_ROW = (
    '"C0009002","Ann","Lee","ann.lee@example.com","+31 20 123","Dam 1","Amsterdam","1012","NL",2024-02-01,false,'
    "2026-01-01T10:00:00.000Z"
)
GARBAGE = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x0c", b"\x80\x81 \xc3\x28 not text", b'{"event_id": "\xe9"}')
LONG_PAYMENT = "x" * 5_000_000
LONG_ORDER_ID = "O800000001"


def _json_records(warehouse: Warehouse, entity: str, day: date) -> list[dict]:
    """Return the records of a landing file that parse as JSON objects (the malformed ones the generator adds, not)."""
    records = []
    for line in warehouse.read_bytes(warehouse.landing_file(entity, day, "jsonl")).splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _land(warehouse: Warehouse, entity: str, day: date | str, name: str, data: bytes) -> str:
    """Write a landing file into a day's folder (or a folder given by name) and return its URI."""
    folder = warehouse.landing_dir(entity, day) if isinstance(day, date) else f"{warehouse.landing_dir(entity)}/{day}"
    uri = f"{folder}/{name}"
    warehouse.write_bytes(uri, data)
    return uri


def _add_bad_input(warehouse: Warehouse, first: date, second: date) -> dict[str, str]:
    """Land the bad files and folders beside a generated shop's own; return their URIs by what they are."""
    event = next(e for e in _json_records(warehouse, "events", first) if e.get("event_type") == "page_view")
    good_event = json.dumps({**event, "event_id": str(uuid.uuid4())}).encode()
    order = next(o for o in _json_records(warehouse, "orders", first) if o.get("payment_method") == "card")
    long_order = json.dumps({**order, "order_id": LONG_ORDER_ID, "payment_method": LONG_PAYMENT}).encode()
    latin1 = f"{CUSTOMER_COLUMNS}\n{LATIN1_ROW}\n{ASCII_ROW}\n".encode("latin-1")
    # Two packed files, not the same bytes twice (that would be one file delivered twice: a duplicate, not read).
    truncated_gzip, other_gzip = (gzip.compress(f'{{"movement_id": "M{n}"}}\n'.encode() * 50)[:40] for n in (1, 2))
    statuses = json.dumps([{"status_id": "S1"}, {"status_id": "S2"}], indent=2).encode()
    _land(warehouse, "events", "dt=yesterday", "events.jsonl", good_event + b"\n")
    warehouse.fs.create_dir(warehouse.fs_path(f"{warehouse.landing_dir('events')}/2026-01-05"))
    warehouse.fs.create_dir(warehouse.fs_path(warehouse.uri("landing", "refunds")))
    return {
        "latin1": _land(warehouse, "customers", first, "customers_latin1.csv", latin1),
        "garbage": _land(warehouse, "events", first, "events_garbage.jsonl", b"\n".join([*GARBAGE, good_event])),
        "bad_header": _land(warehouse, "products", first, "products_other.csv", b"id,title\n1,Lamp\n2,Chair\n"),
        "long_order": _land(warehouse, "orders", first, "orders_long.jsonl", long_order + b"\n"),
        "gzip": _land(warehouse, "inventory", second, "inventory_late.jsonl.gz", truncated_gzip),
        "gzip_unnamed": _land(warehouse, "inventory", second, "inventory_packed.jsonl", other_gzip),
        "json_array": _land(warehouse, "order_status", second, "order_status_export.jsonl", statuses),
        "bad_day": _land(warehouse, "events", "dt=2026-13-01", "events_20261301.jsonl", good_event + b"\n"),
    }


@pytest.fixture(scope="module")
def bad_shop(spark, tmp_path_factory):
    """Return (warehouse, tables, the run's results, the bad files) for two small days with bad input beside them,
    taken through bronze and silver."""
    warehouse = Warehouse(Settings(warehouse=str(tmp_path_factory.mktemp("bad_input"))))
    first, second = generate(warehouse, 2, progress=False, **SMALL_SHOP).days
    files = _add_bad_input(warehouse, first, second)
    tables = Tables(warehouse, spark)
    results = runner.run(RunContext(tables), layers=("bronze", "silver"))
    return warehouse, tables, {r.step: r for r in results}, files


def _quarantined(tables: Tables, uri: str) -> list:
    return tables.read("bronze.quarantine").where(f"_source_file = '{uri}'").orderBy("_source_line").collect()


def test_a_latin1_csv_quarantines_its_lines_that_are_not_utf8_and_loads_the_others(bad_shop):
    _, tables, _, files = bad_shop
    [row] = _quarantined(tables, files["latin1"])
    assert (row.entity, row.reason, row._source_line, row.records) == ("customers", "not valid UTF-8", 2, 1)
    assert base64.b64decode(row.raw_base64) == LATIN1_ROW.encode("latin-1")
    assert row.raw == LATIN1_ROW.encode("latin-1").decode("utf-8", errors="replace")
    loaded = tables.read("bronze.customers").where(f"_source_file = '{files['latin1']}'").collect()
    assert [(r.customer_id, r._source_line) for r in loaded] == [("C0009002", 3)]
    names = {r.last_name for r in tables.read("silver.customers").collect()}
    assert "Lee" in names and not any("\ufffd" in name for name in names)


def test_binary_garbage_lines_are_quarantined_with_their_bytes_and_every_engine_reads_the_quarantine(bad_shop):
    warehouse, tables, _, files = bad_shop
    rows = _quarantined(tables, files["garbage"])
    assert [(r.reason, r._source_line) for r in rows] == [("not valid UTF-8", n) for n in (1, 2, 3)]
    assert [base64.b64decode(r.raw_base64) for r in rows] == list(GARBAGE)
    assert all(len(r.raw) <= 200 for r in rows)
    # The line of the same file that is an event went to bronze.
    assert tables.read("bronze.events").where(f"_source_file = '{files['garbage']}'").count() == 1

    with_spark = tables.read("bronze.quarantine").count()
    with_delta_rs = DeltaTable(warehouse.table_uri("bronze.quarantine")).to_pyarrow_table()
    with_delta_rs.validate(full=True)  # a full validation checks that every string is UTF-8
    with_duckdb = SqlEngine(warehouse).query("select * from bronze.quarantine").table
    assert with_spark == with_delta_rs.num_rows == with_duckdb.num_rows > len(GARBAGE)


def test_a_csv_file_with_a_bad_header_is_quarantined_whole_and_the_day_s_export_still_loads(bad_shop):
    _, tables, results, files = bad_shop
    [row] = _quarantined(tables, files["bad_header"])
    assert row.reason.startswith("unreadable file: the CSV header does not match the products contract")
    assert "unexpected id, title" in row.reason and "missing product_id" in row.reason
    assert (row.raw, row.raw_base64, row.records, row._source_line) == ("id,title", None, 2, 1)
    day_export = files["bad_header"].replace("products_other.csv", "products_20260101.csv")
    assert tables.read("bronze.products").where(f"_source_file = '{day_export}'").count() > 0
    assert results["bronze.products"].status == "ok"
    assert any(files["bad_header"] in note for note in results["bronze.products"].notes)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (
            "gzip",
            "unreadable file: named as compressed (inventory_late.jsonl.gz); "
            "the inventory feed takes plain UTF-8 .jsonl files",
        ),
        ("gzip_unnamed", "unreadable file: gzip-compressed; the inventory feed takes plain UTF-8 .jsonl files"),
        ("json_array", "unreadable file: a JSON array, not JSON lines; write one JSON object per line"),
    ],
)
def test_other_files_that_cannot_be_read_are_quarantined_whole_and_the_run_goes_on(bad_shop, name, reason):
    warehouse, tables, results, files = bad_shop
    [row] = _quarantined(tables, files[name])
    assert row.reason == reason
    assert row.records == len(warehouse.read_bytes(files[name]).splitlines())
    assert all(r.status == "ok" for r in results.values())


def test_every_landing_record_is_in_bronze_or_its_quarantine_a_file_quarantined_whole_counting_all_its(bad_shop):
    warehouse, tables, results, _ = bad_shop
    check_bronze(warehouse, tables, as_generated=False)
    for step, result in results.items():
        if step.startswith("bronze."):
            assert result.rows_in == result.rows_out + result.rows_quarantined and not result.rows_duplicate, step


def test_an_over_long_payment_method_is_quarantined_in_silver_with_the_field_and_its_bound(bad_shop):
    _, tables, _, files = bad_shop
    assert tables.read("bronze.orders").where(f"order_id = '{LONG_ORDER_ID}'").count() == 1  # bronze keeps text
    [row] = tables.read("silver.quarantine").where(f"_source_file = '{files['long_order']}'").collect()
    assert (row.entity, row.rule, row.reason) == (
        "orders",
        "length:payment_method",
        "payment_method is longer than 32 characters",
    )
    assert tables.read("silver.orders").where(f"order_id = '{LONG_ORDER_ID}'").count() == 0


def test_a_folder_that_is_not_a_day_is_warned_about_and_skipped_and_the_other_days_load(bad_shop, caplog):
    warehouse, tables, results, files = bad_shop
    days = {r._batch_date for r in tables.read("bronze.events").select("_batch_date").distinct().collect()}
    assert days == set(warehouse.landing_days("events")) and len(days) == 2
    assert tables.read("bronze.events").where(f"_source_file = '{files['bad_day']}'").count() == 0
    bad_day = files["bad_day"].rsplit("/", 1)[0]
    notes = results["bronze.events"].notes
    assert any(bad_day in n and "2026-13-01 is not a date (month must be in 1..12)" in n for n in notes)
    # Every run says so again, also one with nothing new to ingest.
    with caplog.at_level(logging.WARNING, logger="lakehouse.pipeline.bronze"):
        again = bronze.ingest(RunContext(tables), EVENTS)
    assert again.status == "skipped"
    assert any(bad_day in record.getMessage() for record in caplog.records)
    assert any("dt=yesterday" in record.getMessage() for record in caplog.records)


def test_status_lists_what_the_landing_zone_holds_that_is_not_read_without_a_traceback(bad_shop, monkeypatch):
    warehouse = bad_shop[0]
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", warehouse.root)
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert (
        "Unrecognised in the landing zone" in result.output and "landing/<feed>/dt=YYYY-MM-DD/<files>" in result.output
    )
    events = warehouse.landing_dir("events")
    assert f"{events}/dt=2026-13-01  not a day's folder: 2026-13-01 is not a date" in result.output
    assert f"{events}/2026-01-05  not a day's folder: its name is not dt=YYYY-MM-DD" in result.output
    assert f"{warehouse.uri('landing', 'refunds')}  not a feed" in result.output


@pytest.mark.parametrize(
    ("layout", "shown"),
    [
        ({"landing": b"not a folder"}, "landing  a file where the landing folder belongs"),
        ({"landing/orders": b"not a folder"}, "landing/orders  a file where the feed's folder belongs"),
        ({"landing/events/dt=2026-01-01": b"a file"}, "landing/events/dt=2026-01-01  a file outside"),
        (
            {"landing/customers/dt=2026-02-30/customers.csv": b""},
            "landing/customers/dt=2026-02-30  not a day's folder: 2026-02-30 is not a date (day is out of range",
        ),
        ({"landing/events/[red]x/e.jsonl": b"{}"}, "landing/events/[red]x  not a day's folder"),
    ],
)
def test_status_never_shows_a_traceback_whatever_the_landing_layout(tmp_path, monkeypatch, layout, shown):
    for path, data in layout.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", str(tmp_path))
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert f"{tmp_path}/{shown}" in result.output


def test_a_quarantine_written_before_the_bytes_were_kept_gets_them_and_becomes_readable(spark, tmp_path):
    """A quarantine from before raw_base64 and records, holding a line that is not UTF-8 (as they were stored), is
    unreadable by DuckDB; the next bronze run gives it today's columns and the line its preview and bytes."""
    warehouse = Warehouse(Settings(warehouse=str(tmp_path)))
    generate(warehouse, 1, progress=False, **SMALL_SHOP)
    tables = Tables(warehouse, spark)
    source = f"{warehouse.landing_dir('events')}/dt=2025-12-31/events_20251231.jsonl"
    old = spark.createDataFrame(
        [("events", "malformed JSON", b"\xe9{", source, 7, 20251231, date(2025, 12, 31))],
        "entity string, reason string, raw binary, _source_file string, _source_line int, _batch_id int, "
        "_batch_date date",
    ).withColumns({"raw": F.col("raw").cast("string"), "_ingested_at": F.current_timestamp()})
    tables.append(bronze.QUARANTINE, old)
    with pytest.raises(UserError, match="query failed"):
        SqlEngine(warehouse).query("select * from bronze.quarantine")

    runner.run(RunContext(tables), layers=("bronze",))
    upgraded = DeltaTable(warehouse.table_uri("bronze.quarantine")).to_pyarrow_table()
    upgraded.validate(full=True)
    assert upgraded.column_names == list(bronze_tf.QUARANTINE_COLUMNS)
    [before] = upgraded.filter(pc.equal(upgraded["_source_file"], source)).to_pylist()
    assert (before["raw"], base64.b64decode(before["raw_base64"]), before["records"]) == ("\ufffd{", b"\xe9{", 1)
    counted = SqlEngine(warehouse).query("select count(*) from bronze.quarantine").table
    assert counted.column(0)[0].as_py() == upgraded.num_rows

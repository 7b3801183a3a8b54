"""Late, duplicated, changed and bad landing files on the stack: the landing zone on the S3 server, listed, hashed
and read there, and bronze and silver written by delta-spark. The same cases as tests/test_landing.py and
tests/test_bad_input.py, on one shop and three runs:

1. two small days with bad input beside them, the second day's events held back: bronze, silver and gold;
2. the held-back day folder lands late, the rest of a day already taken arrives as a second file, and a day's orders
   are delivered again under another name: bronze, silver and gold again;
3. a file already taken is exported again with other bytes at the same path: bronze.
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import date
from types import SimpleNamespace

import pytest
from deltalake import DeltaTable

from generator import generate
from lakehouse.pipeline import SPARK_LAYERS, landing, runner
from lakehouse.pipeline.context import RunContext
from lakehouse.spark import use_s3
from lakehouse.tables import Tables
from lakehouse.trino import connected
from lakehouse.warehouse import Warehouse
from tests.accounting import check_audit, check_bronze, check_silver
from tests.test_bad_input import GARBAGE, LATIN1_ROW, LONG_ORDER_ID, SMALL_SHOP, _add_bad_input, _quarantined

pytestmark = [pytest.mark.stack, pytest.mark.e2e, pytest.mark.own_warehouse]

DAY1, DAY2 = date(2026, 1, 1), date(2026, 1, 2)


def _run(tables: Tables, layers: tuple[str, ...]) -> dict:
    """Run `layers`; return every step's result by step."""
    return {r.step: r for r in runner.run(RunContext(tables), layers=layers)}


def _accounting(warehouse: Warehouse, tables: Tables) -> str | None:
    """Return why the accounting does not add up, or None when it does."""
    try:
        check_bronze(warehouse, tables, as_generated=False)
        check_silver(warehouse, tables, as_generated=False)
        check_audit(tables)
    except AssertionError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="module")
def shop(spark, stack_settings):
    settings = dataclasses.replace(stack_settings, warehouse="s3://lakehouse-test/late-and-bad")
    use_s3(spark, settings)
    warehouse = Warehouse(settings)
    generate(warehouse, 2, progress=False, dirty_rate=0.02, **SMALL_SHOP)
    bad = _add_bad_input(warehouse, DAY1, DAY2)
    held_back = warehouse.landing_file("events", DAY2, "jsonl")
    held_bytes = warehouse.read_bytes(held_back)
    warehouse.fs.delete_dir(warehouse.fs_path(warehouse.landing_dir("events", DAY2)))
    tables = Tables(warehouse, spark)
    first = _run(tables, SPARK_LAYERS)
    sessions_before = tables.read("gold.sessions").where(f"session_date = '{DAY2}'").count()

    warehouse.write_bytes(held_back, held_bytes)
    part2 = f"{warehouse.landing_dir('events', DAY1)}/events_resend_part2.jsonl"
    day1_events = warehouse.read_bytes(warehouse.landing_file("events", DAY1, "jsonl")).splitlines()
    warehouse.write_bytes(part2, b"\n".join(day1_events[-3:]) + b"\n")
    orders = warehouse.landing_file("orders", DAY1, "jsonl")
    resent = f"{warehouse.landing_dir('orders', DAY2)}/orders_20260101_resent.jsonl"
    warehouse.write_bytes(resent, warehouse.read_bytes(orders))
    second = _run(tables, SPARK_LAYERS)
    accounting = _accounting(warehouse, tables)

    changed = warehouse.landing_file("customers", DAY1, "csv")
    warehouse.write_bytes(changed, b"\n".join(warehouse.read_bytes(changed).splitlines()[:-1]) + b"\n")
    third = _run(tables, ("bronze",))
    return SimpleNamespace(
        warehouse=warehouse,
        tables=tables,
        runs=(first, second, third),
        bad=bad,
        files={"held_back": held_back, "part2": part2, "orders": orders, "resent": resent, "changed": changed},
        sessions_before=sessions_before,
        accounting=accounting,
    )


def _ledger(tables: Tables, feed: str) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for row in landing.recorded(tables, feed):
        rows.setdefault(row["path"], []).append(row)
    return rows


def test_every_run_on_the_stack_succeeds_and_every_record_is_accounted_for(shop):
    for run in shop.runs:
        assert all(r.status in ("ok", "skipped") for r in run.values()), [(s, r.error) for s, r in run.items()]
    assert shop.accounting is None, shop.accounting
    check_audit(shop.tables)


def test_a_late_day_folder_and_a_late_file_are_taken_by_the_next_run_and_gold_recomputes_their_day(shop):
    tables, files = shop.tables, shop.files
    first_batch = shop.runs[0]["bronze.events"].batch_to
    ledger = _ledger(tables, "events")
    for path in (files["held_back"], files["part2"]):
        [entry] = ledger[path]
        assert entry["status"] == landing.INGESTED and entry["batch_id"] > first_batch, entry
    assert shop.runs[1]["bronze.events"].rows_in == 3 + ledger[files["held_back"]][0]["records"]
    assert shop.sessions_before == 0
    assert tables.read("gold.sessions").where(f"session_date = '{DAY2}'").count() > 0


def test_a_file_delivered_twice_under_another_name_is_counted_as_duplicates_not_read(shop):
    [entry] = _ledger(shop.tables, "orders")[shop.files["resent"]]
    assert entry["status"] == landing.DUPLICATE and shop.files["orders"] in entry["reason"]
    assert shop.runs[1]["bronze.orders"].rows_duplicate == entry["records"] > 0
    assert shop.tables.read("bronze.orders").where(f"_source_file = '{shop.files['resent']}'").count() == 0


def test_a_changed_file_at_a_taken_path_is_quarantined_as_a_conflict(shop):
    tables, path = shop.tables, shop.files["changed"]
    statuses = sorted(r["status"] for r in _ledger(tables, "customers")[path])
    assert statuses == [landing.CONFLICT, landing.INGESTED]
    [row] = (
        tables.read("bronze.quarantine").where(f"_source_file = '{path}' and reason like 'changed after%'").collect()
    )
    assert row.records == shop.runs[2]["bronze.customers"].rows_quarantined > 0


def test_bad_lines_are_quarantined_with_their_bytes_and_trino_and_delta_rs_read_the_quarantine(shop, stack_settings):
    tables, bad = shop.tables, shop.bad
    [latin1] = _quarantined(tables, bad["latin1"])
    assert (latin1.reason, base64.b64decode(latin1.raw_base64)) == ("not valid UTF-8", LATIN1_ROW.encode("latin-1"))
    garbage = _quarantined(tables, bad["garbage"])
    assert [base64.b64decode(r.raw_base64) for r in garbage] == list(GARBAGE)
    [header] = _quarantined(tables, bad["bad_header"])
    assert header.reason.startswith("unreadable file: the CSV header does not match the products contract")
    [packed] = _quarantined(tables, bad["gzip_unnamed"])
    assert packed.reason.startswith("unreadable file: gzip-compressed")

    quarantine = DeltaTable(
        shop.warehouse.table_uri("bronze.quarantine"), storage_options=stack_settings.storage_options()
    )
    with_delta_rs = quarantine.to_pyarrow_table()
    with_delta_rs.validate(full=True)  # every string UTF-8
    with connected(stack_settings) as trino:
        (with_trino,) = trino.execute("select count(*) from lakehouse.bronze.quarantine")[0]
        previews = trino.execute(
            f"select raw from lakehouse.bronze.quarantine where _source_file = '{bad['garbage']}' order by _source_line"
        )
    assert with_trino == with_delta_rs.num_rows == tables.read("bronze.quarantine").count()
    assert [row[0] for row in previews] == [r.raw for r in garbage]


def test_an_over_long_value_is_quarantined_in_silver_and_a_bad_day_folder_is_skipped(shop):
    tables, bad = shop.tables, shop.bad
    [row] = tables.read("silver.quarantine").where(f"_source_file = '{bad['long_order']}'").collect()
    assert (row.rule, row.reason) == ("length:payment_method", "payment_method is longer than 32 characters")
    assert tables.read("silver.orders").where(f"order_id = '{LONG_ORDER_ID}'").count() == 0
    assert tables.read("bronze.events").where(f"_source_file = '{bad['bad_day']}'").count() == 0
    notes = shop.runs[0]["bronze.events"].notes
    assert any("2026-13-01 is not a date" in n for n in notes), notes

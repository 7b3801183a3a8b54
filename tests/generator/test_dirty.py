"""Dirty data: every faulty record in the files is accounted for, exactly, by the day's manifest."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date

import pytest

from generator.schema import (
    ADDED_FAULTS,
    ARRIVAL_FAULTS,
    CSV_ENTITIES,
    ENTITIES,
    FAULTS_BY_ENTITY,
    FIELDS,
    ITEM_FIELDS,
    JSON_ENTITIES,
    REQUIRED,
)
from tests.generator import landing

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DECIMAL = re.compile(r"^-?\d+\.\d{2}$")
TIME_FIELD = {"orders": "order_ts", "order_status": "status_ts", "events": "event_ts", "inventory": "movement_ts"}


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_fault(entity: str, record: dict, known: dict[str, set[str]]) -> str | None:
    """Return the fault a parsed JSON record carries (extra fields aside), or None if it is clean."""
    fields = FIELDS[entity]
    items = record.get("items") if entity == "orders" else None
    if any(record.get(f) is None for f in REQUIRED[entity]):
        return "missing_field"
    if items is not None and any(item.get(f) is None for item in items for f in ITEM_FIELDS):
        return "missing_field"
    for name, kind in fields.items():
        value = record.get(name)
        if value is None:
            continue
        if (kind == "timestamp" and not TIMESTAMP.match(str(value))) or (
            kind in ("integer", "money") and not _is_number(value)
        ):
            return "wrong_type"
    for item in items or []:
        if not all(_is_number(item[f]) for f, kind in ITEM_FIELDS.items() if kind in ("integer", "money")):
            return "wrong_type"
        if item["quantity"] < 0 or item["unit_price"] < 0:
            return "negative_value"
    references = {
        "orders": [("customers", record.get("customer_id"))]
        + [("products", item["product_id"]) for item in items or []],
        "order_status": [("orders", record.get("order_id"))],
        "events": [("customers", record.get("customer_id")), ("products", record.get("product_id"))],
        "inventory": [("products", record.get("product_id"))],
    }[entity]
    if any(value is not None and value not in known[kind] for kind, value in references):
        return "unknown_reference"
    return None


def _csv_fault(entity: str, values: list[str]) -> str | None:
    """Return the fault a CSV row carries, or None if it is clean."""
    fields = FIELDS[entity]
    if len(values) != len(fields):
        return "malformed"
    row = dict(zip(fields, values, strict=True))
    if any(row[f] == "" for f in REQUIRED[entity]):
        return "missing_field"
    for name, kind in fields.items():
        if (
            (kind == "timestamp" and not TIMESTAMP.match(row[name]))
            or (kind == "date" and not DATE.match(row[name]))
            or (kind == "money" and not DECIMAL.match(row[name]))
        ):
            return "wrong_type"
    if entity == "products" and (row["price"].startswith("-") or row["cost"].startswith("-")):
        return "negative_value"
    return None


def _classify(warehouse, days: list[date]) -> dict[tuple[date, str], Counter]:
    """Return, per day and entity, how many lines carry each fault, are late, have an extra field, or are clean."""
    known: dict[str, set[str]] = {"customers": set(), "products": set(), "orders": set()}
    found: dict[tuple[date, str], Counter] = {}
    previous: dict[str, set[str]] = {entity: set() for entity in ENTITIES}
    for day in days:
        # Ids known by the end of the day: the exports and orders delivered so far, faulty copies included
        # (a copy keeps its record's id).
        for entity in ("customers", "products"):
            for line in landing.lines(warehouse, entity, day):
                known[entity].add(landing.csv_values(line)[0])
        for line in landing.lines(warehouse, "orders", day):
            match = re.match(r'^\{"order_id":"(O\d{9})"', line)
            if match:
                known["orders"].add(match[1])
        for entity in ENTITIES:
            counts: Counter = Counter()
            seen: set[str] = set()
            for line in landing.lines(warehouse, entity, day):
                duplicate = line in seen or line in previous[entity]
                seen.add(line)
                if entity in CSV_ENTITIES:
                    fault = _csv_fault(entity, landing.csv_values(line))
                else:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        counts["malformed"] += 1
                        continue
                    fault = _json_fault(entity, record, known)
                    if fault is None and not duplicate:
                        if set(record) - set(FIELDS[entity]):
                            counts["extra_field"] += 1
                        if record[TIME_FIELD[entity]][:10] < day.isoformat():
                            counts["late"] += 1
                if fault is None and duplicate:
                    fault = "duplicate"
                counts[fault or "clean"] += 1
            found[(day, entity)] = counts
            previous[entity] = seen
    return found


@pytest.fixture(scope="module")
def classified(dirty_shop):
    return _classify(dirty_shop, landing.days(dirty_shop))


def test_manifest_counts_match_the_files_exactly(dirty_shop, classified):
    for day in landing.days(dirty_shop):
        manifest = landing.manifest(dirty_shop, day)["entities"]
        for entity in ENTITIES:
            counts = classified[(day, entity)]
            report = manifest[entity]
            assert report["faults"] == {kind: counts[kind] for kind in ADDED_FAULTS}, (day, entity)
            assert report["late_records"] == counts["late"], (day, entity)
            assert report["extra_field_records"] == counts["extra_field"], (day, entity)
            assert report["clean_records"] == counts["clean"], (day, entity)
            assert report["records_written"] == len(landing.lines(dirty_shop, entity, day))
            assert report["records_written"] == report["clean_records"] + sum(report["faults"].values())


def test_every_fault_kind_appears_where_the_contract_allows_it(dirty_shop, classified):
    totals = {entity: Counter() for entity in ENTITIES}
    for (_, entity), counts in classified.items():
        totals[entity] += counts
    for entity in ENTITIES:
        present = {kind for kind in (*ADDED_FAULTS, *ARRIVAL_FAULTS) if totals[entity][kind]}
        allowed = set(FAULTS_BY_ENTITY[entity])
        assert present <= allowed, entity
    # The big feeds are large enough to carry every kind they allow.
    for entity in ("events", "customers"):
        assert {k for k in FAULTS_BY_ENTITY[entity] if totals[entity][k] == 0} == set(), entity


def test_late_records_arrive_one_to_three_days_late(dirty_shop):
    days = landing.days(dirty_shop)
    held = {day: landing.manifest(dirty_shop, day)["entities"] for day in days}
    arrived: Counter = Counter()
    previous: dict[str, set[str]] = {"events": set(), "order_status": set()}
    for day in days:
        for entity in ("events", "order_status"):
            lines = landing.lines(dirty_shop, entity, day)
            seen: set[str] = set()
            for line in lines:
                if line in seen or line in previous[entity]:
                    continue  # a duplicate of yesterday's record is not a late one
                seen.add(line)
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                stamp = str(record.get(TIME_FIELD[entity]))
                if TIMESTAMP.match(stamp) and stamp[:10] < day.isoformat():
                    late_by = (day - date.fromisoformat(stamp[:10])).days
                    assert 1 <= late_by <= 3
                    arrived[(date.fromisoformat(stamp[:10]), entity)] += 1
            previous[entity] = set(lines)
    # Everything held back on the first day has arrived within the three days after it.
    first = days[0]
    for entity in ("events", "order_status"):
        assert arrived[(first, entity)] == held[first][entity]["held_back_late"]
    assert sum(arrived.values()) > 0


def test_faulty_records_are_added_next_to_clean_ones(dirty_shop, clean_shop):
    # Same seed and shape as the clean shop apart from the rate, so the dirty shop's first day has the same
    # clean customers: every one of them is still there, untouched.
    day = landing.days(dirty_shop)[0]
    clean_rows = set(landing.lines(clean_shop, "customers", day))
    dirty_rows = set(landing.lines(dirty_shop, "customers", day))
    assert clean_rows <= dirty_rows
    assert len(dirty_rows - clean_rows) > 0
    for line in landing.lines(dirty_shop, "customers", day):
        assert line.count('"') % 2 == 0  # never a broken quote that would swallow the next row


def test_json_feeds_carry_only_contract_fields_unless_marked_extra(dirty_shop):
    for day in landing.days(dirty_shop):
        manifest = landing.manifest(dirty_shop, day)["entities"]
        for entity in JSON_ENTITIES:
            extra = 0
            for line in landing.lines(dirty_shop, entity, day):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                extra += bool(set(record) - set(FIELDS[entity]))
            # Duplicates of a record with an extra field carry it too.
            assert extra >= manifest[entity]["extra_field_records"]

"""Exact accounting of a pipeline run, shared by the embedded and the stack end-to-end tests.

Every landing record is in bronze or its quarantine, or counted as a duplicate (its file delivered twice); every
bronze row is in silver, its quarantine, or counted as a duplicate; and each count is what the generator's manifests
say it delivered.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from lakehouse.entities import ENTITIES
from lakehouse.tables import Tables
from lakehouse.warehouse import Warehouse

# Where each feed's accepted records end up in silver (one row per accepted record).
SILVER_TABLE = {
    "customers": "silver.customers_history",
    "products": "silver.products_history",
    "orders": "silver.orders",
    "order_status": "silver.order_status_history",
    "events": "silver.events",
    "inventory": "silver.inventory_movements",
}
SILVER_FAULTS = ("missing_field", "wrong_type", "negative_value", "unknown_reference")


def rows(tables: Tables, name: str) -> int:
    return tables.read(name).count()


def _by_entity(tables: Tables, name: str) -> Counter:
    return Counter({r["entity"]: r["count"] for r in tables.read(name).groupBy("entity").count().collect()})


def _landing_records(warehouse: Warehouse) -> Counter:
    """Count records in the landing files themselves: JSON lines, or CSV rows after the header. Lines are counted as
    bytes (a line need not be UTF-8), ending at \\n, \\r\\n or \\r as Spark's reader ends them."""
    counts: Counter = Counter()
    for entity in ENTITIES:
        for day in warehouse.landing_days(entity.name):
            for uri in warehouse.landing_files(entity.name, day):
                lines = warehouse.read_bytes(uri).splitlines()
                counts[entity.name] += max(len(lines) - (1 if entity.format == "csv" else 0), 0)
    return counts


def _bronze_quarantined(tables: Tables) -> Counter:
    """Count the landing records in bronze's quarantine per feed: a row is a line, or a file quarantined whole that
    stands for all its records (`records`)."""
    totals = tables.read("bronze.quarantine").groupBy("entity").sum("records").collect()
    return Counter({r["entity"]: r["sum(records)"] for r in totals})


def _manifest_totals(warehouse: Warehouse) -> dict[str, Counter]:
    totals: dict[str, Counter] = {e.name: Counter() for e in ENTITIES}
    for day in warehouse.landing_days("events"):
        manifest = json.loads(warehouse.read_bytes(warehouse.generator_dir("manifests", f"{day:%Y%m%d}.json")))
        for entity, report in manifest["entities"].items():
            totals[entity]["clean"] += report["clean_records"]
            totals[entity].update(report["faults"])
    return totals


def _bronze_duplicates(tables: Tables) -> Counter:
    """Count the landing records each feed's bronze step set aside as duplicates (a file delivered twice), per the
    run audit."""
    if not tables.exists("ops.run_audit"):
        return Counter()
    audit = tables.read("ops.run_audit").where("layer = 'bronze' and status = 'ok'").groupBy("step")
    totals = audit.sum("rows_duplicate").collect()
    return Counter({r["step"].split(".", 1)[1]: r["sum(rows_duplicate)"] for r in totals})


def check_audit(tables: Tables) -> None:
    """Assert that every bronze step of every run adds up: records in = bronze rows + quarantined + duplicates."""
    for r in tables.read("ops.run_audit").where("layer = 'bronze' and status = 'ok'").collect():
        assert r.rows_in == r.rows_out + r.rows_quarantined + r.rows_duplicate, r


def versions(tables: Tables) -> dict[str, int | None]:
    return {name: tables.version(name) for name in tables.names()}


def check_bronze(warehouse: Warehouse, tables: Tables, *, as_generated: bool = True) -> None:
    """Assert that landing = bronze + bronze quarantine + duplicates (files delivered twice), per feed, and that the
    quarantine is what was malformed (`as_generated`; a test that adds faulty files of its own checks the sum alone)."""
    landing = _landing_records(warehouse)
    quarantined = _bronze_quarantined(tables)
    duplicates = _bronze_duplicates(tables)
    manifest = _manifest_totals(warehouse)
    for entity in ENTITIES:
        bronze_rows = rows(tables, f"bronze.{entity.name}")
        assert bronze_rows + quarantined[entity.name] + duplicates[entity.name] == landing[entity.name], entity.name
        if as_generated:
            assert quarantined[entity.name] == manifest[entity.name]["malformed"], entity.name
    assert sum(quarantined.values()) > 0, "the dirty rate should have produced malformed lines"


def _silver_audit(tables: Tables, feed: str) -> list[dict]:
    """Return the silver audit rows of one feed's step, for a message that says where the counts part."""
    columns = ["run_id", "step", "batch_from", "batch_to", "rows_in", "rows_out", "rows_quarantined", "rows_duplicate"]
    audit = tables.read("ops.run_audit").where(f"step like 'silver.{feed}%'").select(*columns, "status", "notes")
    return [row.asDict() for row in audit.collect()]


def check_silver(warehouse: Warehouse, tables: Tables, *, as_generated: bool = True) -> None:
    """Assert that bronze = silver + silver quarantine + duplicates (from the run audit), per feed, and that each is
    what the generator made (`as_generated`; a test that adds records of its own checks the sum alone)."""
    quarantined = _by_entity(tables, "silver.quarantine")
    # Duplicates of every run so far, as each silver step recorded them.
    audit = (
        tables.read("ops.run_audit").where("layer = 'silver' and status = 'ok'").groupBy("step").sum("rows_duplicate")
    )
    duplicates = Counter({r["step"].split(".", 1)[1]: r["sum(rows_duplicate)"] for r in audit.collect()})
    manifest = _manifest_totals(warehouse)
    for entity in ENTITIES:
        bronze_rows = rows(tables, f"bronze.{entity.name}")
        silver_rows = rows(tables, SILVER_TABLE[entity.name])
        assert bronze_rows == silver_rows + quarantined[entity.name] + duplicates[entity.name], (
            f"{entity.name}: bronze {bronze_rows} != silver {silver_rows} + quarantined {quarantined[entity.name]} "
            f"+ duplicates {duplicates[entity.name]}; audit: {_silver_audit(tables, entity.name)}"
        )
        if not as_generated:
            continue
        # ...and each count is what the generator says it put there.
        assert silver_rows == manifest[entity.name]["clean"], entity.name
        assert quarantined[entity.name] == sum(manifest[entity.name][k] for k in SILVER_FAULTS), entity.name
        assert duplicates[entity.name] == manifest[entity.name]["duplicate"], entity.name


# -- the same gold on both deployments --------------------------------------------------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Gold that records when and where a run happened (when a record was quarantined, its file's path): two runs of the
# same shop cannot share it, so comparisons of two runs leave it out.
RUN_DEPENDENT = ("gold.mart_quarantine",)


def normalized(value: Any) -> Any:
    """Return `value` as both deployments must agree on it: money to the cent, an instant to the millisecond (UTC),
    a double to nine significant digits (the engines sum in different orders)."""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    if isinstance(value, float):
        return float(f"{value:.9g}") + 0.0  # + 0.0: -0.0 is 0.0
    if isinstance(value, datetime):
        instant = value if value.tzinfo else value.replace(tzinfo=UTC)
        return (instant - EPOCH) // timedelta(milliseconds=1)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return tuple(normalized(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), normalized(v)) for k, v in value.items()))
    return value


@dataclass
class Fingerprint:
    """A table's rows, order-independently: the count, a checksum, and the rows by their first column, to name where
    two tables differ."""

    columns: tuple[str, ...]
    rows: int
    checksum: int
    by_key: dict[Any, list[tuple]]


def fingerprint(columns: Sequence[str], records: Iterable[Sequence[Any]]) -> Fingerprint:
    """Fingerprint rows whose values come in the order of `columns`."""
    order = sorted(range(len(columns)), key=lambda i: columns[i])
    checksum, count, by_key = 0, 0, {}
    for record in records:
        row = tuple(normalized(record[i]) for i in order)
        digest = hashlib.blake2b(repr(row).encode(), digest_size=8).digest()
        checksum = (checksum + int.from_bytes(digest, "big")) % 2**64
        count += 1
        by_key.setdefault(normalized(record[0]), []).append(row)
    return Fingerprint(tuple(columns[i] for i in order), count, checksum, by_key)


def fingerprint_of(table: pa.Table) -> Fingerprint:
    """Fingerprint the rows of an Arrow table."""
    return fingerprint(table.column_names, zip(*(c.to_pylist() for c in table.columns), strict=True))


def first_difference(name: str, ours: Fingerprint, theirs: Fingerprint) -> str | None:
    """Return None when two fingerprints agree, else the table, the first key whose rows differ, and how."""
    if ours.columns != theirs.columns:
        return f"{name}: columns differ: {ours.columns} against {theirs.columns}"
    if (ours.rows, ours.checksum) == (theirs.rows, theirs.checksum):
        return None
    for key in sorted(set(ours.by_key) | set(theirs.by_key), key=repr):
        mine, other = sorted(ours.by_key.get(key, []), key=repr), sorted(theirs.by_key.get(key, []), key=repr)
        if mine != other:
            row = next((a, b) for a, b in zip([*mine, None], [*other, None], strict=False) if a != b)
            return (
                f"{name} ({', '.join(ours.columns)}): {ours.rows} against {theirs.rows} rows;"
                f" first differing key {key!r}: {row[0]} against {row[1]}"
            )
    return f"{name}: the same rows, a different checksum"  # cannot happen: the checksum is of these rows

"""Exact accounting of a pipeline run, shared by the embedded and the stack end-to-end tests.

Every landing record is in bronze or its quarantine; every bronze row is in silver, its quarantine, or counted as a
duplicate; and each count is what the generator's manifests say it delivered.
"""

from __future__ import annotations

import json
from collections import Counter

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
    """Count records in the landing files themselves: JSON lines, or CSV rows after the header."""
    counts: Counter = Counter()
    for entity in ENTITIES:
        for day in warehouse.landing_days(entity.name):
            for uri in warehouse.landing_files(entity.name, day):
                lines = warehouse.read_bytes(uri).decode("utf-8").splitlines()
                counts[entity.name] += len(lines) - (1 if entity.format == "csv" else 0)
    return counts


def _manifest_totals(warehouse: Warehouse) -> dict[str, Counter]:
    totals: dict[str, Counter] = {e.name: Counter() for e in ENTITIES}
    for day in warehouse.landing_days("events"):
        manifest = json.loads(warehouse.read_bytes(warehouse.generator_dir("manifests", f"{day:%Y%m%d}.json")))
        for entity, report in manifest["entities"].items():
            totals[entity]["clean"] += report["clean_records"]
            totals[entity].update(report["faults"])
    return totals


def versions(tables: Tables) -> dict[str, int | None]:
    return {name: tables.version(name) for name in tables.names()}


def check_bronze(warehouse: Warehouse, tables: Tables) -> None:
    """Assert that landing = bronze + bronze quarantine, per feed, and that the quarantine is what was malformed."""
    landing = _landing_records(warehouse)
    quarantined = _by_entity(tables, "bronze.quarantine")
    manifest = _manifest_totals(warehouse)
    for entity in ENTITIES:
        bronze_rows = rows(tables, f"bronze.{entity.name}")
        assert bronze_rows + quarantined[entity.name] == landing[entity.name], entity.name
        assert quarantined[entity.name] == manifest[entity.name]["malformed"], entity.name
    assert sum(quarantined.values()) > 0, "the dirty rate should have produced malformed lines"


def check_silver(warehouse: Warehouse, tables: Tables) -> None:
    """Assert that bronze = silver + silver quarantine + duplicates (from the run audit), per feed, as generated."""
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
        assert bronze_rows == silver_rows + quarantined[entity.name] + duplicates[entity.name], entity.name
        # ...and each count is what the generator says it put there.
        assert silver_rows == manifest[entity.name]["clean"], entity.name
        assert quarantined[entity.name] == sum(manifest[entity.name][k] for k in SILVER_FAULTS), entity.name
        assert duplicates[entity.name] == manifest[entity.name]["duplicate"], entity.name

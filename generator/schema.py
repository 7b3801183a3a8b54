"""The landing contract in code: entities, their files and fields, and which faults each entity can carry.

README.md in this folder is the prose version; the pipeline and the tests can import these names instead of
copying lists.
"""

from __future__ import annotations

from lakehouse import entities as contract

# The fields, their types and which may be null are the lakehouse's contract (lakehouse/entities.py); the
# generator writes what it says rather than keeping a copy.
ENTITIES = tuple(e.name for e in contract.ENTITIES)
CSV_ENTITIES = tuple(e.name for e in contract.ENTITIES if e.format == "csv")
JSON_ENTITIES = tuple(e.name for e in contract.ENTITIES if e.format == "jsonl")
EXTENSIONS = {e.name: e.extension for e in contract.ENTITIES}

# Field name -> type. Types: string, integer, money, boolean, date, timestamp, items (the order lines).
FIELDS: dict[str, dict[str, str]] = {e.name: dict(e.types) for e in contract.ENTITIES}
ITEM_FIELDS: dict[str, str] = dict(contract.ITEM_FIELDS)

# Fields a clean record always fills; the others may be null.
REQUIRED: dict[str, tuple[str, ...]] = {e.name: e.required for e in contract.ENTITIES}
# Events of these types always carry a product_id; a purchase always carries an order_id.
PRODUCT_EVENT_TYPES = contract.PRODUCT_EVENT_TYPES
EVENT_TYPES = contract.EVENT_TYPES
ORDER_STATUSES = contract.ORDER_STATUSES
PAYMENT_METHODS = contract.PAYMENT_METHODS
CHANNELS = contract.CHANNELS
DEVICES = contract.DEVICES
MOVEMENT_TYPES = contract.MOVEMENT_TYPES
WAREHOUSES = contract.WAREHOUSES

# Faults that add a record next to the clean ones, and faults that change how a clean record arrives.
ADDED_FAULTS = ("malformed", "missing_field", "wrong_type", "negative_value", "unknown_reference", "duplicate")
ARRIVAL_FAULTS = ("late", "extra_field")

FAULTS_BY_ENTITY: dict[str, tuple[str, ...]] = {
    "customers": ("malformed", "missing_field", "wrong_type", "duplicate"),
    "products": ("malformed", "missing_field", "wrong_type", "negative_value", "duplicate"),
    "orders": (
        "malformed",
        "missing_field",
        "wrong_type",
        "negative_value",
        "unknown_reference",
        "duplicate",
        "extra_field",
    ),
    "order_status": (
        "malformed",
        "missing_field",
        "wrong_type",
        "unknown_reference",
        "duplicate",
        "late",
        "extra_field",
    ),
    "events": ("malformed", "missing_field", "wrong_type", "unknown_reference", "duplicate", "late", "extra_field"),
    "inventory": ("malformed", "missing_field", "wrong_type", "unknown_reference", "duplicate", "extra_field"),
}

# Where each fault kind strikes. `items.x` is field x of one order line.
WRONG_TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "customers": ("signup_date", "updated_at"),
    "products": ("price", "cost", "updated_at"),
    "orders": ("order_ts", "shipping_amount", "items.quantity", "items.unit_price"),
    "order_status": ("status_ts",),
    "events": ("event_ts",),
    "inventory": ("movement_ts", "quantity"),
}
NEGATIVE_FIELDS: dict[str, tuple[str, ...]] = {
    "products": ("price", "cost"),
    "orders": ("items.quantity", "items.unit_price"),
}
# Ids never issued to a real record: a faulty copy with an unknown reference points into these ranges.
UNKNOWN_ID_PREFIXES = {"customer": "C9", "product": "P9", "order": "O9"}
ID_WIDTHS = {"customer": 7, "product": 5, "order": 9, "status": 10, "movement": 10}
ID_PREFIXES = {"customer": "C", "product": "P", "order": "O", "status": "S", "movement": "M"}
# The largest number each id may carry so it stays out of the unknown range above.
MAX_ISSUED = {"customer": 8_999_999, "product": 89_999, "order": 899_999_999}
# Field names a record with `extra_field` carries in addition to its own.
EXTRA_FIELD_NAMES = ("_debug", "trace_id", "client_version", "ingest_host")

"""The shop's source feeds: what each landing file holds. The contract is generator/README.md."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entity:
    """One source feed: its name in the landing zone, file format and the fields a record carries."""

    name: str
    format: str  # "csv" or "jsonl"
    fields: tuple[str, ...]
    description: str

    @property
    def extension(self) -> str:
        return "csv" if self.format == "csv" else "jsonl"


CUSTOMERS = Entity(
    "customers",
    "csv",
    (
        "customer_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "street_address",
        "city",
        "postal_code",
        "country",
        "signup_date",
        "marketing_opt_in",
        "updated_at",
    ),
    "CRM export: every customer created or changed that day",
)
PRODUCTS = Entity(
    "products",
    "csv",
    (
        "product_id",
        "sku",
        "name",
        "category",
        "subcategory",
        "brand",
        "price",
        "cost",
        "active",
        "updated_at",
    ),
    "catalogue export: every product created or changed that day",
)
ORDERS = Entity(
    "orders",
    "jsonl",
    (
        "order_id",
        "customer_id",
        "order_ts",
        "currency",
        "payment_method",
        "shipping_amount",
        "shipping_country",
        "channel",
        "items",
    ),
    "order service: one order with its line items",
)
ORDER_STATUS = Entity(
    "order_status",
    "jsonl",
    ("status_id", "order_id", "status", "status_ts"),
    "fulfilment service: one status change of an order",
)
EVENTS = Entity(
    "events",
    "jsonl",
    (
        "event_id",
        "event_type",
        "event_ts",
        "anonymous_id",
        "customer_id",
        "product_id",
        "order_id",
        "page_url",
        "referrer",
        "device",
        "country",
    ),
    "web tracker: one clickstream event",
)
INVENTORY = Entity(
    "inventory",
    "jsonl",
    ("movement_id", "product_id", "movement_ts", "movement_type", "quantity", "warehouse"),
    "warehouse system: one stock movement",
)

# In dependency order: dimensions first, so facts can be checked against them in the same run.
ENTITIES: tuple[Entity, ...] = (CUSTOMERS, PRODUCTS, ORDERS, ORDER_STATUS, EVENTS, INVENTORY)
BY_NAME = {e.name: e for e in ENTITIES}

"""The shop's source feeds: what each landing file holds, field by field. The prose contract is generator/README.md.

This module is the contract in code. Silver derives its `required` and `type` rules from it, and the generator
writes what it says; a field added here is a field both sides know.
"""

from __future__ import annotations

from dataclasses import dataclass

# Accepted values of the coded fields.
EVENT_TYPES = ("page_view", "product_view", "add_to_cart", "remove_from_cart", "checkout", "purchase")
PRODUCT_EVENT_TYPES = ("product_view", "add_to_cart", "remove_from_cart")  # these always carry a product_id
ORDER_STATUSES = ("paid", "shipped", "delivered", "cancelled", "returned")  # "placed" is the order record itself
MOVEMENT_TYPES = ("initial", "receipt", "sale", "return", "adjustment")

# Field types: string, integer, money, boolean, date, timestamp, and items (an order's list of lines).
ITEM_FIELDS: dict[str, str] = {
    "line_no": "integer",
    "product_id": "string",
    "sku": "string",
    "quantity": "integer",
    "unit_price": "money",
    "discount_amount": "money",
}


@dataclass(frozen=True)
class Entity:
    """One source feed: its name in the landing zone, file format, and typed fields (the nullable ones named)."""

    name: str
    format: str  # "csv" or "jsonl"
    types: dict[str, str]
    description: str
    nullable: frozenset[str] = frozenset()

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.types)

    @property
    def required(self) -> tuple[str, ...]:
        """Return the fields every valid record fills, in contract order."""
        return tuple(f for f in self.types if f not in self.nullable)

    @property
    def extension(self) -> str:
        return "csv" if self.format == "csv" else "jsonl"


CUSTOMERS = Entity(
    "customers",
    "csv",
    {
        "customer_id": "string",
        "first_name": "string",
        "last_name": "string",
        "email": "string",
        "phone": "string",
        "street_address": "string",
        "city": "string",
        "postal_code": "string",
        "country": "string",
        "signup_date": "date",
        "marketing_opt_in": "boolean",
        "updated_at": "timestamp",
    },
    "CRM export: every customer created or changed that day",
)
PRODUCTS = Entity(
    "products",
    "csv",
    {
        "product_id": "string",
        "sku": "string",
        "name": "string",
        "category": "string",
        "subcategory": "string",
        "brand": "string",
        "price": "money",
        "cost": "money",
        "active": "boolean",
        "updated_at": "timestamp",
    },
    "catalogue export: every product created or changed that day",
)
ORDERS = Entity(
    "orders",
    "jsonl",
    {
        "order_id": "string",
        "customer_id": "string",
        "order_ts": "timestamp",
        "currency": "string",
        "payment_method": "string",
        "shipping_amount": "money",
        "shipping_country": "string",
        "channel": "string",
        "items": "items",
    },
    "order service: one order with its line items",
)
ORDER_STATUS = Entity(
    "order_status",
    "jsonl",
    {"status_id": "string", "order_id": "string", "status": "string", "status_ts": "timestamp"},
    "fulfilment service: one status change of an order",
)
EVENTS = Entity(
    "events",
    "jsonl",
    {
        "event_id": "string",
        "event_type": "string",
        "event_ts": "timestamp",
        "anonymous_id": "string",
        "customer_id": "string",
        "product_id": "string",
        "order_id": "string",
        "page_url": "string",
        "referrer": "string",
        "device": "string",
        "country": "string",
    },
    "web tracker: one clickstream event",
    # customer_id until the visitor logs in, product_id off product pages, order_id except on purchases,
    # referrer on a direct visit.
    nullable=frozenset({"customer_id", "product_id", "order_id", "referrer"}),
)
INVENTORY = Entity(
    "inventory",
    "jsonl",
    {
        "movement_id": "string",
        "product_id": "string",
        "movement_ts": "timestamp",
        "movement_type": "string",
        "quantity": "integer",
        "warehouse": "string",
    },
    "warehouse system: one stock movement",
)

# In dependency order: dimensions first, so facts can be checked against them in the same run.
ENTITIES: tuple[Entity, ...] = (CUSTOMERS, PRODUCTS, ORDERS, ORDER_STATUS, EVENTS, INVENTORY)

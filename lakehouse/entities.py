"""The shop's source feeds: what each landing file holds, field by field. The prose contract is generator/README.md.

This module is the contract in code. Silver derives its `required`, `type`, `length` and `accepted` rules from it,
and the generator writes what it says; a field added here is a field both sides know.

ORDER_LIFECYCLE is the order's statuses, once: their rank, the feed's accepted statuses and silver.orders' milestone
columns derive from it. The dbt project reads the accepted values, the lifecycle and the milestone columns from here
too (`dbt_contract`, handed over by the dbt step; dbt_project/macros/contract.sql). Adding a status is one edit there;
tests/test_entity_contract.py then fails until the generator's plan_fulfilment (generator/orders.py) simulates it,
and tests/transforms/test_silver.py and tests/generator/ check the transforms and the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, TypedDict


class Status(NamedTuple):
    """One status of an order: its name and the silver.orders column holding when the order first reached it."""

    name: str
    milestone: str | None


# In rank order, which breaks ties between status changes stamped with the same time. The first status is the order
# record itself (its time is order_ts); the others arrive in the order_status feed.
ORDER_LIFECYCLE: tuple[Status, ...] = (
    Status("placed", None),
    Status("paid", "paid_at"),
    Status("shipped", "shipped_at"),
    Status("delivered", "delivered_at"),
    Status("cancelled", "cancelled_at"),
    Status("returned", "returned_at"),
)
PLACED = ORDER_LIFECYCLE[0].name
STATUS_RANK = {status.name: rank for rank, status in enumerate(ORDER_LIFECYCLE)}
MILESTONES = {status.name: status.milestone for status in ORDER_LIFECYCLE if status.milestone}  # status -> column

# Accepted values of the coded fields.
EVENT_TYPES = ("page_view", "product_view", "add_to_cart", "remove_from_cart", "checkout", "purchase")
PRODUCT_EVENT_TYPES = ("product_view", "add_to_cart", "remove_from_cart")  # these always carry a product_id
ORDER_STATUSES = tuple(status.name for status in ORDER_LIFECYCLE[1:])  # what a status change may set
MOVEMENT_TYPES = ("initial", "receipt", "sale", "return", "adjustment")
PAYMENT_METHODS = ("card", "paypal", "klarna", "apple_pay", "bank_transfer")
CHANNELS = ("web", "app")
DEVICES = ("desktop", "mobile", "tablet")
WAREHOUSES = ("AMS", "BER", "MAD")


class Length(NamedTuple):
    """How many characters a text field holds as delivered, both bounds included (checked only when it is filled)."""

    min: int
    max: int


# Length bounds by kind of text: generous for what people type, tight for codes.
ID = Length(1, 64)  # generated ids and UUIDs
CODE = Length(1, 32)  # coded values: payment methods, channels, statuses
COUNTRY = Length(2, 2)  # ISO 3166-1 alpha-2
CURRENCY = Length(3, 3)  # ISO 4217
NAME = Length(1, 100)  # a person's or a city's name, a category, a brand
TEXT = Length(1, 200)  # a street address, a product name
EMAIL = Length(3, 254)  # the longest address SMTP carries
PHONE = Length(1, 32)
POSTAL_CODE = Length(1, 16)
SKU = Length(1, 64)
URL = Length(1, 2048)

# Field types: string, integer, money, boolean, date, timestamp, and items (an order's list of lines).
ITEM_FIELDS: dict[str, str] = {
    "line_no": "integer",
    "product_id": "string",
    "sku": "string",
    "quantity": "integer",
    "unit_price": "money",
    "discount_amount": "money",
}
ITEM_LENGTHS: dict[str, Length] = {"product_id": ID, "sku": SKU}


@dataclass(frozen=True)
class Entity:
    """One source feed: its name in the landing zone, file format, and typed fields (the nullable ones named), with
    the length bounds of its text fields (every string field has one) and the accepted values of its coded fields."""

    name: str
    format: str  # "csv" or "jsonl"
    types: dict[str, str]
    description: str
    nullable: frozenset[str] = frozenset()
    lengths: Mapping[str, Length] = field(default_factory=dict)
    accepted: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = (set(self.lengths) | set(self.accepted)) - set(self.types)
        if unknown:
            raise ValueError(f"{self.name}: bounds or accepted values for fields it does not have: {sorted(unknown)}")
        unbounded = [f for f, kind in self.types.items() if kind == "string" and f not in self.lengths]
        if unbounded:
            raise ValueError(f"{self.name}: every text field needs a length bound; missing for {unbounded}")

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
    lengths={
        "customer_id": ID,
        "first_name": NAME,
        "last_name": NAME,
        "email": EMAIL,
        "phone": PHONE,
        "street_address": TEXT,
        "city": NAME,
        "postal_code": POSTAL_CODE,
        "country": COUNTRY,
    },
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
    lengths={"product_id": ID, "sku": SKU, "name": TEXT, "category": NAME, "subcategory": NAME, "brand": NAME},
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
    lengths={
        "order_id": ID,
        "customer_id": ID,
        "currency": CURRENCY,
        "payment_method": CODE,
        "shipping_country": COUNTRY,
        "channel": CODE,
    },
    accepted={"payment_method": PAYMENT_METHODS, "channel": CHANNELS},
)
ORDER_STATUS = Entity(
    "order_status",
    "jsonl",
    {"status_id": "string", "order_id": "string", "status": "string", "status_ts": "timestamp"},
    "fulfilment service: one status change of an order",
    lengths={"status_id": ID, "order_id": ID, "status": CODE},
    accepted={"status": ORDER_STATUSES},
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
    lengths={
        "event_id": ID,
        "event_type": CODE,
        "anonymous_id": ID,
        "customer_id": ID,
        "product_id": ID,
        "order_id": ID,
        "page_url": URL,
        "referrer": URL,
        "device": CODE,
        "country": COUNTRY,
    },
    accepted={"event_type": EVENT_TYPES, "device": DEVICES},
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
    lengths={"movement_id": ID, "product_id": ID, "movement_type": CODE, "warehouse": CODE},
    accepted={"movement_type": MOVEMENT_TYPES, "warehouse": WAREHOUSES},
)

# In dependency order: dimensions first, so facts can be checked against them in the same run.
ENTITIES: tuple[Entity, ...] = (CUSTOMERS, PRODUCTS, ORDERS, ORDER_STATUS, EVENTS, INVENTORY)


class DbtContract(TypedDict):
    accepted: dict[str, dict[str, list[str]]]  # feed -> field -> values
    order_lifecycle: list[str]
    order_milestones: list[str]


def dbt_contract() -> DbtContract:
    """Return what the dbt project reads of the contract (dbt_project/macros/contract.sql): each feed's accepted
    values by field, the order's lifecycle in rank order, and the milestone columns silver.orders has."""
    return {
        "accepted": {
            entity.name: {name: list(values) for name, values in entity.accepted.items()} for entity in ENTITIES
        },
        "order_lifecycle": [status.name for status in ORDER_LIFECYCLE],
        "order_milestones": list(MILESTONES.values()),
    }

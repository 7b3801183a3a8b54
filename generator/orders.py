"""The order and fulfilment services: orders from purchases, and each order's later status changes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from generator import encode
from generator.catalogue import ProductChanges
from generator.clickstream import ORDER_LINE_WEIGHTS, Traffic
from generator.crm import CustomerChanges
from generator.pools import COUNTRIES, WAREHOUSE_OF_COUNTRY
from generator.schema import (
    CHANNELS,
    ID_PREFIXES,
    ID_WIDTHS,
    MOVEMENT_TYPES,
    ORDER_STATUSES,
    PAYMENT_METHODS,
    WAREHOUSES,
)

PAYMENT_WEIGHTS = np.array([0.38, 0.27, 0.13, 0.13, 0.09])
QUANTITY_WEIGHTS = np.array([0.82, 0.13, 0.05])
UNITS_PER_ORDER = float(np.dot(ORDER_LINE_WEIGHTS, [1, 2, 3, 4]) * np.dot(QUANTITY_WEIGHTS, [1, 2, 3]))
COUPON_SHARE = 0.12
FREE_SHIPPING_FROM = 5_000  # cents, after discounts
STANDARD_SHIPPING, EXPRESS_SHIPPING, EXPRESS_SHARE = 495, 995, 0.08
CANCEL_SHARE, RETURN_SHARE = 0.03, 0.05
HOUR, DAY = 3_600_000, 86_400_000
# The shop promises dispatch within 48 hours of payment. Most orders ship well within it; a share is held up and
# ships 1–4 days past the promise: more often from MAD, and far more often in the year-end backlog.
SHIP_PROMISE = 48 * HOUR
LATE_SHARE = {"AMS": 0.04, "BER": 0.04, "MAD": 0.12}
BACKLOG_LATE_SHARE = 0.25  # added to every warehouse's share for orders paid in the backlog
BACKLOG = ((12, 22), (1, 2))  # (month, day) of its first and last day: 22 December to 2 January
# The statuses plan_fulfilment sets, by their names in the contract (lakehouse/entities.py), as indices into
# ORDER_STATUSES; tests/test_entity_contract.py checks they are all the contract's statuses.
PLANNED = tuple(ORDER_STATUSES.index(s) for s in ("paid", "shipped", "delivered", "cancelled", "returned"))
PAID, SHIPPED, DELIVERED, CANCELLED, RETURNED = PLANNED
WAREHOUSE_INDEX = {c: WAREHOUSES.index(WAREHOUSE_OF_COUNTRY[c]) for c in COUNTRIES}
# Movement types, as indices into MOVEMENT_TYPES, found by their names in the contract: a renamed one fails here.
INITIAL, RECEIPT, SALE, RETURN, ADJUSTMENT = (
    MOVEMENT_TYPES.index(t) for t in ("initial", "receipt", "sale", "return", "adjustment")
)

PENDING_STATUS_COLUMNS = {"order_num": "int64", "status": "int8", "status_ts": "int64"}
MOVEMENT_COLUMNS = {
    "product_num": "int64",
    "warehouse": "int8",
    "movement_type": "int8",
    "quantity": "int64",
    "movement_ts": "int64",
}


def empty(columns: dict[str, str]) -> pd.DataFrame:
    """Return an empty frame with the given column dtypes."""
    return pd.DataFrame({name: np.zeros(0, dtype=dtype) for name, dtype in columns.items()})


@dataclass(frozen=True)
class Orders:
    """One day's orders (numbered, in order_ts order) and their lines (grouped by order, in line order)."""

    numbers: np.ndarray
    customer_row: np.ndarray
    ts: np.ndarray
    payment: np.ndarray
    channel: np.ndarray
    shipping: np.ndarray  # cents
    country: np.ndarray  # shipping country code
    warehouse: np.ndarray  # index into WAREHOUSES, from the shipping country
    line_offsets: np.ndarray  # lines of order i are line_offsets[i]:line_offsets[i+1]
    line_order: np.ndarray
    line_no: np.ndarray
    line_product_row: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray  # cents
    discount: np.ndarray  # cents


def build_orders(
    traffic: Traffic,
    customers: pd.DataFrame,
    products: pd.DataFrame,
    customer_changes: CustomerChanges,
    product_changes: ProductChanges,
    first_number: int,
    rng: np.random.Generator,
) -> Orders:
    """Return the orders the day's purchase events created, priced as the catalogue stood at order_ts."""
    n = len(traffic.order_ts)
    ts = traffic.order_ts
    line_order = traffic.line_order
    counts = np.bincount(line_order, minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    line_no = np.arange(len(line_order)) - offsets[line_order] + 1
    quantity = rng.choice(3, len(line_order), p=QUANTITY_WEIGHTS) + 1
    unit_price = product_changes.price_at(products, traffic.line_product_row, ts[line_order])

    # A coupon takes a percentage or a fixed amount off, shared over the lines by their value.
    value = unit_price * quantity
    subtotal = np.bincount(line_order, weights=value, minlength=n).astype(np.int64)
    coupon = rng.random(n) < COUPON_SHARE
    percent = rng.choice([10, 15, 20], n)
    fixed = np.where(subtotal > 3_000, rng.choice([500, 1_000], n), 0)
    total_discount = np.where(rng.random(n) < 0.6, np.round(subtotal * percent / 100), np.minimum(fixed, subtotal))
    total_discount = np.where(coupon, total_discount, 0).astype(np.int64)
    discount = (total_discount[line_order] * value) // np.maximum(subtotal[line_order], 1)
    rest = total_discount - np.bincount(line_order, weights=discount, minlength=n).astype(np.int64)
    has_lines = counts > 0
    discount[offsets[1:][has_lines] - 1] += rest[has_lines]

    country = customer_changes.country_at(customers, traffic.order_customer_row, ts)
    express = rng.random(n) < EXPRESS_SHARE
    shipping = np.where(subtotal - total_discount >= FREE_SHIPPING_FROM, 0, STANDARD_SHIPPING)
    shipping = np.where(express, EXPRESS_SHIPPING, shipping)
    # Phones and tablets often use the app; the web tracker sees both.
    channel = ((traffic.order_device > 0) & (rng.random(n) < 0.45)).astype(np.int8)
    return Orders(
        numbers=first_number + np.arange(n, dtype=np.int64),
        customer_row=traffic.order_customer_row,
        ts=ts,
        payment=rng.choice(len(PAYMENT_METHODS), n, p=PAYMENT_WEIGHTS),
        channel=channel,
        shipping=shipping.astype(np.int64),
        country=country,
        warehouse=np.array([WAREHOUSE_INDEX.get(c, 0) for c in country], dtype=np.int8),
        line_offsets=offsets,
        line_order=line_order,
        line_no=line_no,
        line_product_row=traffic.line_product_row,
        quantity=quantity.astype(np.int64),
        unit_price=unit_price.astype(np.int64),
        discount=discount.astype(np.int64),
    )


def encode_orders(orders: Orders, products: pd.DataFrame, customers: pd.DataFrame) -> pa.StringArray:
    """Return the orders as JSON lines with their items nested."""
    product_ids = pa.array(products["product_id"].to_numpy(), type=pa.string())
    skus = pa.array(products["sku"].to_numpy(), type=pa.string())
    rows = orders.line_product_row
    items = encode.json_objects(
        [
            ("line_no", encode.integers(orders.line_no)),
            ("product_id", encode.json_string(product_ids.take(rows), escape=False)),
            ("sku", encode.json_string(skus.take(rows), escape=False)),
            ("quantity", encode.integers(orders.quantity)),
            ("unit_price", encode.money(orders.unit_price)),
            ("discount_amount", encode.money(orders.discount)),
        ]
    )
    customer_ids = pa.array(customers["customer_id"].to_numpy(), type=pa.string())
    n = len(orders.numbers)
    return encode.json_lines(
        [
            ("order_id", encode.json_string(encode.ids("O", orders.numbers, ID_WIDTHS["order"]), escape=False)),
            ("customer_id", encode.json_string(customer_ids.take(orders.customer_row), escape=False)),
            ("order_ts", encode.json_string(encode.timestamps(orders.ts), escape=False)),
            ("currency", encode.json_string(pa.array(["EUR"] * n, type=pa.string()), escape=False)),
            ("payment_method", encode.json_string(pa.array(PAYMENT_METHODS).take(orders.payment), escape=False)),
            ("shipping_amount", encode.money(orders.shipping)),
            ("shipping_country", encode.json_string(pa.array(orders.country, type=pa.string()), escape=False)),
            ("channel", encode.json_string(pa.array(CHANNELS).take(orders.channel), escape=False)),
            ("items", encode.json_arrays(items, orders.line_offsets)),
        ]
    )


def in_backlog(ts: np.ndarray) -> np.ndarray:
    """Return whether each time (epoch ms) falls in the year-end backlog (BACKLOG's days, UTC)."""
    moment = ts.astype("datetime64[ms]")
    month = moment.astype("datetime64[M]")
    month_no = month.astype(np.int64) % 12 + 1
    day_no = (moment.astype("datetime64[D]") - month.astype("datetime64[D]")).astype(np.int64) + 1
    (first_month, first_day), (last_month, last_day) = BACKLOG
    key, first, last = month_no * 100 + day_no, first_month * 100 + first_day, last_month * 100 + last_day
    return (key >= first) | (key <= last) if first > last else (key >= first) & (key <= last)


def ship_ts(warehouse: np.ndarray, paid: np.ndarray, usual: np.ndarray, late_rng: np.random.Generator) -> np.ndarray:
    """Return when each order ships: `usual` (within the promise), or for a late share (LATE_SHARE by warehouse,
    plus BACKLOG_LATE_SHARE when paid in the backlog) 1–4 days past the promise. Drawn from `late_rng` only."""
    n = len(paid)
    share = np.array([LATE_SHARE[w] for w in WAREHOUSES])[warehouse] + BACKLOG_LATE_SHARE * in_backlog(paid)
    late = late_rng.random(n) < share
    overdue = late_rng.integers(DAY, 4 * DAY, n, endpoint=True)
    return np.where(late, paid + SHIP_PROMISE + overdue, usual).astype(np.int64)


def plan_fulfilment(orders: Orders, products: pd.DataFrame, rng: np.random.Generator, late_rng: np.random.Generator):
    """Return (status changes, stock movements) that will happen to the day's orders from now on.

    Payment follows in minutes to hours (bank transfers take longer), shipping 1–2 days later (a share later than
    SHIP_PROMISE: see ship_ts, which draws from `late_rng`), delivery 2–5 days after that; ~3% are cancelled before
    shipping and ~5% of delivered orders come back 5–20 days later. Every line leaves stock as a sale at order_ts;
    a cancellation puts it back as an adjustment, a return as a return.
    """
    n = len(orders.numbers)
    ts = orders.ts
    fast = np.clip(rng.lognormal(np.log(4 * 60_000), 1.0, n), 20_000, 6 * HOUR)
    slow = np.clip(rng.lognormal(np.log(8 * HOUR), 0.6, n), HOUR, 60 * HOUR)
    paid = ts + np.where(orders.payment == PAYMENT_METHODS.index("bank_transfer"), slow, fast).astype(np.int64)
    cancelled = rng.random(n) < CANCEL_SHARE
    before_payment = cancelled & (rng.random(n) < 0.5)
    cancel_ts = np.where(
        before_payment, ts + rng.integers(10 * 60_000, 6 * HOUR, n), paid + rng.integers(30 * 60_000, 17 * HOUR, n)
    )
    shipped = ship_ts(orders.warehouse, paid, paid + rng.integers(18 * HOUR, 48 * HOUR, n), late_rng)
    delivered = shipped + rng.integers(2 * DAY, 5 * DAY, n)
    returned = ~cancelled & (rng.random(n) < RETURN_SHARE)
    return_ts = delivered + rng.integers(5 * DAY, 20 * DAY, n)

    done = ~cancelled
    parts = [
        (orders.numbers[~before_payment], PAID, paid[~before_payment]),
        (orders.numbers[cancelled], CANCELLED, cancel_ts[cancelled]),
        (orders.numbers[done], SHIPPED, shipped[done]),
        (orders.numbers[done], DELIVERED, delivered[done]),
        (orders.numbers[returned], RETURNED, return_ts[returned]),
    ]
    statuses = pd.DataFrame(
        {
            "order_num": np.concatenate([p[0] for p in parts]).astype(np.int64),
            "status": np.concatenate([np.full(len(p[0]), p[1]) for p in parts]).astype(np.int8),
            "status_ts": np.concatenate([p[2] for p in parts]).astype(np.int64),
        }
    )

    line = orders.line_order
    product_num = products["num"].to_numpy()[orders.line_product_row]
    warehouse = orders.warehouse[line]
    back = cancelled[line] | returned[line]
    movements = pd.DataFrame(
        {
            "product_num": np.concatenate([product_num, product_num[back]]),
            "warehouse": np.concatenate([warehouse, warehouse[back]]).astype(np.int8),
            "movement_type": np.concatenate(
                [np.full(len(line), SALE), np.where(cancelled[line][back], ADJUSTMENT, RETURN)]
            ).astype(np.int8),
            "quantity": np.concatenate([-orders.quantity, orders.quantity[back]]).astype(np.int64),
            "movement_ts": np.concatenate([ts[line], np.where(cancelled, cancel_ts, return_ts)[line][back]]),
        }
    )
    return statuses, movements


def lifecycle(orders: Orders, statuses: pd.DataFrame) -> pa.Table:
    """Return the truth of the orders' lives: one row per order with the time of each status change planned for
    it (null where it never comes), its warehouse, and whether it shipped more than SHIP_PROMISE after payment
    (null if it never ships). `statuses` are the orders' planned changes, from plan_fulfilment."""
    n = len(orders.numbers)
    row = statuses["order_num"].to_numpy() - (orders.numbers[0] if n else 0)
    kind, when = statuses["status"].to_numpy(), statuses["status_ts"].to_numpy()
    times = np.zeros((len(ORDER_STATUSES), n), dtype=np.int64)
    seen = np.zeros((len(ORDER_STATUSES), n), dtype=bool)
    times[kind, row], seen[kind, row] = when, True
    timestamp = pa.timestamp("ms", tz="UTC")

    def column(values: np.ndarray, present: np.ndarray) -> pa.Array:
        return pa.array(values, type=pa.int64(), mask=~present).cast(timestamp)

    late = times[SHIPPED] - times[PAID] > SHIP_PROMISE
    columns = {
        "order_id": encode.ids("O", orders.numbers, ID_WIDTHS["order"]),
        "order_ts": column(orders.ts.astype(np.int64), np.ones(n, dtype=bool)),
        **{f"{s}_ts": column(times[i], seen[i]) for i, s in enumerate(ORDER_STATUSES)},
        "warehouse": pa.array(WAREHOUSES).take(orders.warehouse.astype(np.int64)),
        "shipped_late": pa.array(late, type=pa.bool_(), mask=~seen[SHIPPED]),
    }
    return pa.table(columns)


def due(pending: pd.DataFrame, ts_column: str, day_end_ms: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (rows due before `day_end_ms` in time order, rows still pending)."""
    is_due = pending[ts_column].to_numpy() < day_end_ms
    now = pending[is_due]
    order = np.argsort(now[ts_column].to_numpy(), kind="stable")
    return now.iloc[order].reset_index(drop=True), pending[~is_due].reset_index(drop=True)


def encode_statuses(statuses: pd.DataFrame, first_number: int) -> pa.StringArray:
    """Return status changes (in time order) as JSON lines with ids from `first_number` on."""
    n = len(statuses)
    return encode.json_lines(
        [
            (
                "status_id",
                encode.json_string(
                    encode.ids(ID_PREFIXES["status"], first_number + np.arange(n), ID_WIDTHS["status"]), escape=False
                ),
            ),
            (
                "order_id",
                encode.json_string(encode.ids("O", statuses["order_num"].to_numpy(), ID_WIDTHS["order"]), escape=False),
            ),
            ("status", encode.json_string(pa.array(ORDER_STATUSES).take(statuses["status"].to_numpy()), escape=False)),
            ("status_ts", encode.json_string(encode.timestamps(statuses["status_ts"].to_numpy()), escape=False)),
        ]
    )

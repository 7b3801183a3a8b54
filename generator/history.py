"""The shop's past: months of orders before the first generated day, delivered as one batch (a first export).

A shop moving to a new platform brings its past along once: the customers who signed up over the last months,
the catalogue, every order with its status changes, and the stock movements those caused. That arrives in one
landing folder dated the day before the first generated day. The web tracker is new, so there are no
clickstream events for the past. Orders are drawn per day from the customers who had signed up by then
(weighted by their activity) and the active products (weighted by popularity), as many as the daily traffic
would make for the customer base of that day; their lines, prices, statuses and returns come from the same code
as every day's orders, and the warehouse opens with stock on the first day of the past and restocks each morning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from generator import baskets, crm, inventory, orders
from generator.catalogue import ProductChanges
from generator.clickstream import DEVICE_WEIGHTS, ORDER_LINE_WEIGHTS, WEEKDAY_FACTOR, Traffic
from generator.crm import CustomerChanges
from generator.day import DayOutput, advanced_ids, delivery_truth, export_lines, land, versions
from generator.schema import MAX_ISSUED
from generator.world import DAY_MS, World, day_rng, day_start_ms

_NEVER = np.iinfo(np.int64).max
_NONE = np.zeros(0, dtype=np.int64)


def history_days(world: World) -> list[date]:
    """Return the days of the shop's past, oldest first (empty without one)."""
    first = world.options.history_start()
    if first is None:
        return []
    return [date.fromordinal(d) for d in range(first.toordinal(), world.options.start_date.toordinal())]


def _batch_day(world: World) -> date:
    """Return the day the past is delivered on (only a world with a past has one)."""
    day = world.options.history_day()
    assert day is not None, "the shop has no past to deliver"
    return day


def _day_orders(world: World, day: date, shelf: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Return (order_ts, customer row, device, line's order, line's product row) of one day of the past.

    Customers who have churned by the day do not order, and those about to churn order less and less."""
    customers, products = world.customers, world.products
    start = day_start_ms(day)
    audience = np.flatnonzero(customers["created_at"].to_numpy() < start)
    expected = inventory.orders_per_day(world.options.events_per_day) * WEEKDAY_FACTOR[day.weekday()]
    activity = crm.activity_on(customers, start // DAY_MS)[audience]
    count = int(rng.poisson(expected * len(audience) / len(customers))) if activity.any() and len(shelf) else 0
    customer = rng.choice(audience, count, p=activity / activity.sum()) if count else _NONE
    ts = start + np.sort(rng.integers(0, DAY_MS, count))
    device = rng.choice(len(DEVICE_WEIGHTS), count, p=DEVICE_WEIGHTS)
    line_order = np.repeat(np.arange(count), rng.choice(len(ORDER_LINE_WEIGHTS), count, p=ORDER_LINE_WEIGHTS) + 1)
    popularity = products["popularity"].to_numpy()[shelf]
    product = shelf[rng.choice(len(shelf), len(line_order), p=popularity / popularity.sum())] if count else _NONE
    # A cart holds a product once: a second draw of it in the same order is dropped.
    _, first = np.unique(line_order * len(products) + product, return_index=True)
    keep = np.sort(first)
    return ts, customer, device, line_order[keep], product[keep]


def _with_companions(
    world: World, line_order: np.ndarray, product: np.ndarray, shelf: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the past's order lines with the planted companions: an order holding a pair's anchor gets its
    companion's line after its own, with the pair's probability (from the delivery day's "baskets" stream)."""
    anchor, companion, probability = baskets.on_shelf(world.products, world.pairs, shelf)
    pairs = (shelf[anchor], shelf[companion], probability)
    rng = day_rng(world.options.seed, _batch_day(world), "baskets")
    every = np.ones(len(product), dtype=bool)
    at, extra = baskets.companions(line_order, product, every, pairs, len(world.products), rng)
    line_order, product = np.concatenate([line_order, line_order[at]]), np.concatenate([product, extra])
    lines = np.argsort(line_order, kind="stable")  # a companion's line comes after its order's own
    return line_order[lines], product[lines]


def _traffic(world: World, days: list[date]) -> Traffic:
    """Return the past's orders as the traffic that made them (no events: the tracker did not exist yet)."""
    products = world.products
    shelf = np.flatnonzero(products["active"].to_numpy())
    parts = [_day_orders(world, day, shelf, day_rng(world.options.seed, day, "traffic")) for day in days]
    counts = np.array([len(p[0]) for p in parts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    line_order = np.concatenate([p[3] + o for p, o in zip(parts, offsets, strict=True)]).astype(np.int64)
    line_order, line_product = _with_companions(world, line_order, np.concatenate([p[4] for p in parts]), shelf)
    none = np.zeros(0, dtype=np.int64)
    return Traffic(
        ts=none,
        event_type=none,
        visit=none,
        customer_row=none,
        product_row=none,
        order=none,
        page=none,
        referrer=none,
        cookie=np.zeros((0, 16), dtype=np.uint8),
        device=none,
        country=none,
        order_ts=np.concatenate([p[0] for p in parts]).astype(np.int64),
        order_customer_row=np.concatenate([p[1] for p in parts]).astype(np.int64),
        order_device=np.concatenate([p[2] for p in parts]).astype(np.int64),
        line_order=line_order,
        line_product_row=line_product.astype(np.int64),
    )


def _stock_movements(world: World, days: list[date], sales: pd.DataFrame) -> pd.DataFrame:
    """Return the past's stock movements in time order: opening stock, morning receipts, the orders' sales,
    cancellations and returns (`sales`, in time order), and the daily adjustments."""
    options, products = world.options, world.products
    rows = np.arange(len(products))
    first_ms = day_start_ms(days[0])
    # The opening stock draws from the first day's "world" stream, which nothing else of that day uses.
    opening_rng = day_rng(options.seed, days[0], "world")
    parts = [inventory.initial_stock(products, rows, options.events_per_day, np.full(len(rows), first_ms), opening_rng)]
    shelf = inventory.apply(products, parts[0])
    bounds = np.searchsorted(sales["movement_ts"].to_numpy(), [day_start_ms(d) for d in [*days, options.start_date]])
    for i, day in enumerate(days):
        rng = day_rng(options.seed, day, "inventory")
        start = day_start_ms(day)
        today = [sales.iloc[bounds[i] : bounds[i + 1]], inventory.adjustments(products, start, rng)]
        if i:
            held = inventory.held_up(options.seed, day, shelf, options.products)
            today.insert(0, inventory.receipts(shelf, options.events_per_day, start, rng, held))
        shelf = inventory.apply(shelf, pd.concat([t.astype(orders.MOVEMENT_COLUMNS) for t in today]))
        parts += today
    return inventory.in_time_order(parts)


def simulate_history(world: World, note: Callable[[str], None] | None = None) -> tuple[World, DayOutput]:
    """Return the world after its past and the batch that delivers it (dated the day before start_date)."""
    note = note or (lambda _: None)
    days = history_days(world)
    batch_day = _batch_day(world)
    customers, products = world.customers, world.products
    note("orders")
    traffic = _traffic(world, days)
    unchanged_customers = CustomerChanges(_NONE, np.full(len(customers), _NEVER), customers["country"].to_numpy())
    unchanged_products = ProductChanges(
        _NONE, np.full(len(products), _NEVER), products["price"].to_numpy(), products["active"].to_numpy()
    )
    rng, first_order = day_rng(world.options.seed, batch_day, "orders"), world.next_ids["order"]
    past = orders.build_orders(traffic, customers, products, unchanged_customers, unchanged_products, first_order, rng)
    if len(past.numbers) and past.numbers[-1] > MAX_ISSUED["order"]:
        raise RuntimeError("ran out of order numbers")
    statuses, movements = orders.plan_fulfilment(
        past, products, rng, day_rng(world.options.seed, batch_day, "fulfilment")
    )
    end = day_start_ms(world.options.start_date)
    due_status, pending_status = orders.due(statuses, "status_ts", end)
    due_movements, pending_movements = orders.due(movements.astype(orders.MOVEMENT_COLUMNS), "movement_ts", end)
    note("inventory")
    stock = _stock_movements(world, days, due_movements)
    products = inventory.apply(products, stock)
    product_ids = pa.array(products["product_id"].to_numpy(), type=pa.string())
    clean = {
        "customers": export_lines("customers", customers),
        "products": export_lines("products", products),
        "orders": orders.encode_orders(past, products, customers),
        "order_status": orders.encode_statuses(due_status, world.next_ids["status"]),
        "events": pa.array([], type=pa.string()),
        "inventory": inventory.encode_movements(stock, world.next_ids["movement"], product_ids),
    }
    note("files")
    files, reports, outbox = land(world, batch_day, clean)
    truth = delivery_truth(world, batch_day, customers, products, past, statuses, stock, days)
    world = replace(
        world,
        products=products,
        pending_status=pending_status.astype(orders.PENDING_STATUS_COLUMNS),
        pending_movements=pending_movements.astype(orders.MOVEMENT_COLUMNS),
        outbox=outbox,
        next_ids=advanced_ids(world, customers, products, len(past.numbers), len(due_status), len(stock)),
        last_day=batch_day,
    )
    customer_versions, product_versions = versions("customers", customers), versions("products", products)
    output = DayOutput(batch_day, files, reports, customer_versions, product_versions, truth)
    return world, output

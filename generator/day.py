"""One day of the shop: every source system's clean records, then the files as they land, dirt included."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from generator import catalogue, clickstream, crm, encode, faults, inventory, orders
from generator.schema import CSV_ENTITIES, ENTITIES, FIELDS, MAX_ISSUED
from generator.world import DAY_MS, World, day_rng, day_start_ms

CUSTOMER_COLUMNS = list(FIELDS["customers"])
PRODUCT_COLUMNS = list(FIELDS["products"])


@dataclass(frozen=True)
class DayOutput:
    """The files of one day (entity -> bytes), what each holds, and the versions the exports carried."""

    day: date
    files: dict[str, bytes]
    reports: dict[str, faults.EntityReport]
    customer_versions: pa.Table
    product_versions: pa.Table


def _csv_tokens(frame: pd.DataFrame, columns: list[str], types: dict[str, str]) -> list[pa.Array]:
    """Return the CSV tokens of the export columns of a state frame."""
    tokens = []
    for column in columns:
        values = frame[column].to_numpy()
        kind = types[column]
        if kind == "string":
            tokens.append(encode.csv_string(pa.array(values, type=pa.string())))
        elif kind == "money":
            tokens.append(encode.money(values))
        elif kind == "boolean":
            tokens.append(encode.booleans(values))
        elif kind == "date":
            tokens.append(encode.dates(values))
        elif kind == "timestamp":
            tokens.append(encode.timestamps(values))
        else:
            raise ValueError(f"no CSV encoding for {kind}")
    return tokens


def export_lines(entity: str, frame: pd.DataFrame) -> pa.StringArray:
    """Return the CSV rows (no header) of a customers or products export."""
    types = FIELDS[entity]
    if len(frame) == 0:
        return pa.array([], type=pa.string())
    return encode.csv_lines(_csv_tokens(frame, list(types), types))


def versions(entity: str, frame: pd.DataFrame) -> pa.Table:
    """Return the truth table of an export: its rows with typed dates, timestamps and money."""
    columns = {}
    for name, kind in FIELDS[entity].items():
        values = frame[name].to_numpy()
        if kind == "string":
            columns[name] = pa.array(values, type=pa.string())
        elif kind == "money":
            cents = pa.array(values.astype(np.int64), type=pa.int64()).cast(pa.decimal128(19, 0))
            columns[name] = pc.multiply(cents, pa.scalar(Decimal("0.01"), pa.decimal128(3, 2))).cast(
                pa.decimal128(18, 2)
            )
        elif kind == "boolean":
            columns[name] = pa.array(values.astype(bool))
        elif kind == "date":
            columns[name] = pa.array(values.astype(np.int32), type=pa.int32()).cast(pa.date32())
        elif kind == "timestamp":
            columns[name] = pa.array(values.astype(np.int64), type=pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
    return pa.table(columns)


def _new_customers(world: World, start: int, rng: np.random.Generator) -> pd.DataFrame:
    """Return the customers who sign up during the day starting at `start`."""
    count = int(rng.poisson(len(world.customers) * crm.SIGNUP_RATE))
    first = world.next_ids["customer"]
    created = start + np.sort(rng.integers(0, DAY_MS, count))
    return crm.make_customers(
        world.pools, np.arange(first, first + count), np.full(count, start // DAY_MS), created, created, rng
    )


def _new_products(world: World, start: int, rng: np.random.Generator) -> pd.DataFrame:
    """Return the products added to the catalogue during the day starting at `start`."""
    count = int(rng.poisson(len(world.products) * catalogue.NEW_PRODUCT_RATE))
    first = world.next_ids["product"]
    created = start + np.sort(rng.integers(0, DAY_MS, count))
    return catalogue.make_products(world.pools, np.arange(first, first + count), created, created, rng)


def land(
    world: World, day: date, clean: dict[str, pa.StringArray]
) -> tuple[dict[str, bytes], dict[str, faults.EntityReport], pd.DataFrame]:
    """Return (files, reports, outbox) of a delivery: the clean records with dirt spliced in, late records held
    back and earlier deliveries' late records and duplicates due on `day` added."""
    ordinal = day.toordinal()
    outbox = world.outbox
    due_now = outbox["deliver_day"].to_numpy() == ordinal
    arriving, waiting = outbox[due_now], outbox[~due_now]
    files, reports, later = {}, {}, [waiting]
    rng_faults = day_rng(world.options.seed, day, "faults")
    for entity in ENTITIES:
        arrivals = arriving[arriving["entity"] == entity]
        body, report, more = faults.assemble(
            entity, ordinal, clean[entity], arrivals, world.options.dirty_rate, rng_faults
        )
        if entity in CSV_ENTITIES:
            body = (",".join(FIELDS[entity]) + "\n").encode("utf-8") + body
        files[entity] = body
        reports[entity] = report
        later.append(more)
    return files, reports, pd.concat(later, ignore_index=True).astype(faults.OUTBOX_COLUMNS)


def simulate_day(world: World, day: date, progress: Callable[[str], None] | None = None) -> tuple[World, DayOutput]:
    """Return the world after `day` and the day's landing files, reports and truth tables."""
    note = progress or (lambda _: None)
    options = world.options
    seed = options.seed
    start = day_start_ms(day)
    end = start + DAY_MS
    # The first day exports everything and opens the stock, unless a delivery of the shop's past did that.
    first_day = day == options.start_date and not options.history_months

    # CRM and catalogue: changes to what existed at midnight, then sign-ups and new products.
    note("customers")
    customers = world.customers
    n_before = len(customers)
    if first_day:
        changes = crm.CustomerChanges(
            np.zeros(0, dtype=np.int64),
            np.full(n_before, np.iinfo(np.int64).max),
            customers["country"].to_numpy(),
        )
    else:
        customers, changes = crm.change_customers(customers, world.pools, start, day_rng(seed, day, "customers"))
    signups = _new_customers(world, start, day_rng(seed, day, "signups"))
    customers = pd.concat([customers, signups], ignore_index=True)
    changes = crm.CustomerChanges(
        changes.changed,
        np.concatenate([changes.change_ts, np.full(len(signups), np.iinfo(np.int64).max)]),
        np.concatenate([changes.country_before, signups["country"].to_numpy()]),
    )
    exported_customers = (
        np.arange(len(customers))
        if first_day
        else np.concatenate([changes.changed, np.arange(n_before, len(customers))])
    )
    customer_export = customers.iloc[np.sort(exported_customers)]

    note("products")
    products = world.products
    p_before = len(products)
    if first_day:
        p_changes = catalogue.ProductChanges(
            np.zeros(0, dtype=np.int64),
            np.full(p_before, np.iinfo(np.int64).max),
            products["price"].to_numpy(),
            products["active"].to_numpy(),
        )
    else:
        products, p_changes = catalogue.change_products(products, start, day_rng(seed, day, "products"))
    added = _new_products(world, start, day_rng(seed, day, "launches"))
    products = pd.concat([products, added], ignore_index=True)
    p_changes = catalogue.ProductChanges(
        p_changes.changed,
        np.concatenate([p_changes.change_ts, np.full(len(added), np.iinfo(np.int64).max)]),
        np.concatenate([p_changes.price_before, added["price"].to_numpy()]),
        np.concatenate([p_changes.active_before, added["active"].to_numpy()]),
    )
    exported_products = (
        np.arange(len(products))
        if first_day
        else np.concatenate([p_changes.changed, np.arange(p_before, len(products))])
    )
    product_export = products.iloc[np.sort(exported_products)]
    if products["num"].iloc[-1] > MAX_ISSUED["product"] or customers["num"].iloc[-1] > MAX_ISSUED["customer"]:
        raise RuntimeError("ran out of customer or product numbers")

    # Web traffic and the orders it creates.
    note("events")
    existed = customers["created_at"].to_numpy() < start
    audience_rows = np.flatnonzero(existed)
    audience = clickstream.Audience(
        rows=audience_rows,
        numbers=customers["num"].to_numpy()[audience_rows],
        weights=customers["activity"].to_numpy()[audience_rows],
        country=changes.country_before[audience_rows],
    )
    on_shelf = (products["created_at"].to_numpy() < start) & p_changes.active_before & products["active"].to_numpy()
    shelf_rows = np.flatnonzero(on_shelf)
    shelf = clickstream.Shelf(rows=shelf_rows, weights=products["popularity"].to_numpy()[shelf_rows])
    first_order = world.next_ids["order"]
    traffic = clickstream.simulate_traffic(
        seed, start, day.weekday(), options.events_per_day, first_order, audience, shelf, day_rng(seed, day, "traffic")
    )
    product_ids = pa.array(products["product_id"].to_numpy(), type=pa.string())
    customer_ids = pa.array(customers["customer_id"].to_numpy(), type=pa.string())
    event_lines = clickstream.encode_events(
        traffic, product_ids, customer_ids, first_order, day_rng(seed, day, "events")
    )

    note("orders")
    rng_orders = day_rng(seed, day, "orders")
    day_orders = orders.build_orders(traffic, customers, products, changes, p_changes, first_order, rng_orders)
    if len(day_orders.numbers) and day_orders.numbers[-1] > MAX_ISSUED["order"]:
        raise RuntimeError("ran out of order numbers")
    order_lines = orders.encode_orders(day_orders, products, customers)
    statuses, movements = orders.plan_fulfilment(day_orders, products, rng_orders)
    due_status, pending_status = orders.due(
        pd.concat([world.pending_status, statuses], ignore_index=True), "status_ts", end
    )
    status_lines = orders.encode_statuses(due_status, world.next_ids["status"])

    note("inventory")
    rng_inventory = day_rng(seed, day, "inventory")
    parts = []
    if first_day:
        rows = np.arange(p_before)
        parts.append(
            inventory.initial_stock(products, rows, options.events_per_day, np.full(p_before, start), rng_inventory)
        )
    else:
        existing = products.iloc[:p_before]
        parts.append(inventory.receipts(existing, options.events_per_day, start, rng_inventory))
    if len(added):
        rows = np.arange(p_before, len(products))
        parts.append(
            inventory.initial_stock(
                products, rows, options.events_per_day, products["created_at"].to_numpy()[rows], rng_inventory
            )
        )
    sale_and_later = pd.concat([world.pending_movements, movements.astype(orders.MOVEMENT_COLUMNS)], ignore_index=True)
    due_movements, pending_movements = orders.due(sale_and_later, "movement_ts", end)
    parts.append(due_movements)
    parts.append(inventory.adjustments(products.iloc[:p_before], start, rng_inventory))
    day_movements = inventory.in_time_order(parts)
    products = inventory.apply(products, day_movements)
    movement_lines = inventory.encode_movements(day_movements, world.next_ids["movement"], product_ids)

    # The files as they land: dirt spliced in, late records held back, earlier days' late records delivered.
    note("files")
    clean = {
        "customers": export_lines("customers", customer_export),
        "products": export_lines("products", product_export),
        "orders": order_lines,
        "order_status": status_lines,
        "events": event_lines,
        "inventory": movement_lines,
    }
    files, reports, outbox = land(world, day, clean)

    world = replace(
        world,
        customers=customers,
        products=products,
        pending_status=pending_status.astype(orders.PENDING_STATUS_COLUMNS),
        pending_movements=pending_movements.astype(orders.MOVEMENT_COLUMNS),
        outbox=outbox,
        next_ids={
            "customer": int(customers["num"].iloc[-1]) + 1,
            "product": int(products["num"].iloc[-1]) + 1,
            "order": first_order + len(day_orders.numbers),
            "status": world.next_ids["status"] + len(due_status),
            "movement": world.next_ids["movement"] + len(day_movements),
        },
        last_day=day,
    )
    output = DayOutput(
        day=day,
        files=files,
        reports=reports,
        customer_versions=versions("customers", customer_export),
        product_versions=versions("products", product_export),
    )
    return world, output

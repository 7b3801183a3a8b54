"""One day of the shop: every source system's clean records, then the files as they land, dirt included."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from generator import baskets, catalogue, clickstream, crm, encode, faults, inventory, orders
from generator.schema import CSV_ENTITIES, ENTITIES, FIELDS, MAX_ISSUED
from generator.world import DAY_MS, World, day_rng, day_start_ms

_NEVER = np.iinfo(np.int64).max  # the change time of what did not change


@dataclass(frozen=True)
class DayOutput:
    """The files of one day (entity -> bytes), what each holds, the versions the exports carried, and the other
    truth tables of the delivery (name -> table: `delivery_truth`)."""

    day: date
    files: dict[str, bytes]
    reports: dict[str, faults.EntityReport]
    customer_versions: pa.Table
    product_versions: pa.Table
    truth: dict[str, pa.Table] = field(default_factory=dict)  # the other truth tables, by name


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


def _new_customers(world: World, day: date) -> pd.DataFrame:
    """Return the customers who sign up during `day`, with their churn day."""
    start = day_start_ms(day)
    rng = day_rng(world.options.seed, day, "signups")
    count = int(rng.poisson(len(world.customers) * crm.SIGNUP_RATE))
    first = world.next_ids["customer"]
    created = start + np.sort(rng.integers(0, DAY_MS, count))
    signups = crm.make_customers(
        world.pools, np.arange(first, first + count), np.full(count, start // DAY_MS), created, created, rng
    )
    return crm.with_churn(signups, day_rng(world.options.seed, day, "churn"))


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


def _crm_day(world: World, day: date, first_day: bool) -> tuple[pd.DataFrame, crm.CustomerChanges, pd.DataFrame]:
    """Return (customers at the end of `day`, the day's changes, the day's export): changes to who existed at
    midnight, then sign-ups. The first day exports everyone and changes nothing."""
    start = day_start_ms(day)
    customers = world.customers
    n_before = len(customers)
    if first_day:
        changes = crm.CustomerChanges(
            np.zeros(0, dtype=np.int64), np.full(n_before, _NEVER), customers["country"].to_numpy()
        )
    else:
        rng = day_rng(world.options.seed, day, "customers")
        customers, changes = crm.change_customers(customers, world.pools, start, rng)
    signups = _new_customers(world, day)
    customers = pd.concat([customers, signups], ignore_index=True)
    changes = crm.CustomerChanges(
        changes.changed,
        np.concatenate([changes.change_ts, np.full(len(signups), _NEVER)]),
        np.concatenate([changes.country_before, signups["country"].to_numpy()]),
    )
    exported = (
        np.arange(len(customers))
        if first_day
        else np.concatenate([changes.changed, np.arange(n_before, len(customers))])
    )
    return customers, changes, customers.iloc[np.sort(exported)]


def _catalogue_day(
    world: World, day: date, first_day: bool
) -> tuple[pd.DataFrame, catalogue.ProductChanges, pd.DataFrame]:
    """Return (products at the end of `day`, the day's changes, the day's export): changes to what existed at
    midnight, then new products. The first day exports everything and changes nothing."""
    start = day_start_ms(day)
    products = world.products
    p_before = len(products)
    if first_day:
        p_changes = catalogue.ProductChanges(
            np.zeros(0, dtype=np.int64),
            np.full(p_before, _NEVER),
            products["price"].to_numpy(),
            products["active"].to_numpy(),
        )
    else:
        products, p_changes = catalogue.change_products(products, start, day_rng(world.options.seed, day, "products"))
    added = _new_products(world, start, day_rng(world.options.seed, day, "launches"))
    products = pd.concat([products, added], ignore_index=True)
    p_changes = catalogue.ProductChanges(
        p_changes.changed,
        np.concatenate([p_changes.change_ts, np.full(len(added), _NEVER)]),
        np.concatenate([p_changes.price_before, added["price"].to_numpy()]),
        np.concatenate([p_changes.active_before, added["active"].to_numpy()]),
    )
    exported = (
        np.arange(len(products))
        if first_day
        else np.concatenate([p_changes.changed, np.arange(p_before, len(products))])
    )
    return products, p_changes, products.iloc[np.sort(exported)]


def _traffic_day(
    world: World,
    day: date,
    customers: pd.DataFrame,
    changes: crm.CustomerChanges,
    products: pd.DataFrame,
    p_changes: catalogue.ProductChanges,
) -> clickstream.Traffic:
    """Return the day's web traffic: customers who existed at midnight and have not churned visit (as active as
    they are that day), products on the shelf all day sell, and planted companions join their anchors."""
    start = day_start_ms(day)
    activity = crm.activity_on(customers, start // DAY_MS)
    audience_rows = np.flatnonzero((customers["created_at"].to_numpy() < start) & (activity > 0))
    audience = clickstream.Audience(
        rows=audience_rows,
        numbers=customers["num"].to_numpy()[audience_rows],
        weights=activity[audience_rows],
        country=changes.country_before[audience_rows],
    )
    on_shelf = (products["created_at"].to_numpy() < start) & p_changes.active_before & products["active"].to_numpy()
    shelf_rows = np.flatnonzero(on_shelf)
    pairs = baskets.on_shelf(products, world.pairs, shelf_rows)
    shelf = clickstream.Shelf(rows=shelf_rows, weights=products["popularity"].to_numpy()[shelf_rows], pairs=pairs)
    seed, events_per_day = world.options.seed, world.options.events_per_day
    rng, basket_rng = day_rng(seed, day, "traffic"), day_rng(seed, day, "baskets")
    return clickstream.simulate_traffic(
        seed, start, day.weekday(), events_per_day, world.next_ids["order"], audience, shelf, rng, basket_rng
    )


def _stock_day(
    world: World, day: date, first_day: bool, products: pd.DataFrame, movements: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (the day's stock movements in time order, movements still to come): opening stock on the first day
    (else the morning's receipts), new products' opening stock, sales and earlier orders' returns and cancellations
    now due, and the day's adjustments."""
    start = day_start_ms(day)
    events_per_day = world.options.events_per_day
    p_before = len(world.products)
    rng = day_rng(world.options.seed, day, "inventory")
    if first_day:
        parts = [inventory.initial_stock(products, np.arange(p_before), events_per_day, np.full(p_before, start), rng)]
    else:
        held = inventory.held_up(world.options.seed, day, products.iloc[:p_before], world.options.products)
        parts = [inventory.receipts(products.iloc[:p_before], events_per_day, start, rng, held)]
    if len(products) > p_before:
        rows = np.arange(p_before, len(products))
        created = products["created_at"].to_numpy()[rows]
        parts.append(inventory.initial_stock(products, rows, events_per_day, created, rng))
    sale_and_later = pd.concat([world.pending_movements, movements.astype(orders.MOVEMENT_COLUMNS)], ignore_index=True)
    due_movements, pending_movements = orders.due(sale_and_later, "movement_ts", start + DAY_MS)
    parts.append(due_movements)
    parts.append(inventory.adjustments(products.iloc[:p_before], start, rng))
    return inventory.in_time_order(parts), pending_movements


def delivery_truth(
    world: World,
    day: date,
    customers: pd.DataFrame,
    products: pd.DataFrame,
    made: orders.Orders,
    statuses: pd.DataFrame,
    movements: pd.DataFrame,
    days: list[date],
) -> dict[str, pa.Table]:
    """Return a delivery's truth tables besides the versions: the lifecycle of the orders `made`, the stock of each
    of `days` (whose `movements` these are), the customers gone from `day` (the first delivery: every churn up to
    `day`), and, with the first delivery, the planted pairs. Call it before `world` moves on to `day`."""
    first_delivery = world.last_day is None
    since = np.iinfo(np.int64).min if first_delivery else day_start_ms(day) // DAY_MS
    truth = {
        "order_lifecycle": orders.lifecycle(made, statuses),
        "stock_levels": inventory.stock_levels(products, movements, days),
        "churned_customers": crm.churned(customers, since, day_start_ms(day) // DAY_MS),
    }
    if first_delivery:
        truth["planted_pairs"] = baskets.truth(products, world.pairs)
    return truth


def advanced_ids(
    world: World, customers: pd.DataFrame, products: pd.DataFrame, orders_made: int, statuses: int, movements: int
) -> dict[str, int]:
    """Return the id counters after a day that made these many orders, status changes and stock movements."""
    return {
        "customer": int(customers["num"].iloc[-1]) + 1,
        "product": int(products["num"].iloc[-1]) + 1,
        "order": world.next_ids["order"] + orders_made,
        "status": world.next_ids["status"] + statuses,
        "movement": world.next_ids["movement"] + movements,
    }


def simulate_day(world: World, day: date, progress: Callable[[str], None] | None = None) -> tuple[World, DayOutput]:
    """Return the world after `day` and the day's landing files, reports and truth tables."""
    note = progress or (lambda _: None)
    seed = world.options.seed
    # The first day exports everything and opens the stock, unless a delivery of the shop's past did that.
    first_day = day == world.options.start_date and not world.options.history_months
    note("customers")
    customers, changes, customer_export = _crm_day(world, day, first_day)
    note("products")
    products, p_changes, product_export = _catalogue_day(world, day, first_day)
    if products["num"].iloc[-1] > MAX_ISSUED["product"] or customers["num"].iloc[-1] > MAX_ISSUED["customer"]:
        raise RuntimeError("ran out of customer or product numbers")

    note("events")
    traffic = _traffic_day(world, day, customers, changes, products, p_changes)
    first_order = world.next_ids["order"]
    product_ids = pa.array(products["product_id"].to_numpy(), type=pa.string())
    customer_ids = pa.array(customers["customer_id"].to_numpy(), type=pa.string())
    events_rng = day_rng(seed, day, "events")
    event_lines = clickstream.encode_events(traffic, product_ids, customer_ids, first_order, events_rng)

    note("orders")
    rng_orders = day_rng(seed, day, "orders")
    day_orders = orders.build_orders(traffic, customers, products, changes, p_changes, first_order, rng_orders)
    if len(day_orders.numbers) and day_orders.numbers[-1] > MAX_ISSUED["order"]:
        raise RuntimeError("ran out of order numbers")
    statuses, movements = orders.plan_fulfilment(day_orders, products, rng_orders, day_rng(seed, day, "fulfilment"))
    all_status = pd.concat([world.pending_status, statuses], ignore_index=True)
    due_status, pending_status = orders.due(all_status, "status_ts", day_start_ms(day) + DAY_MS)

    note("inventory")
    day_movements, pending_movements = _stock_day(world, day, first_day, products, movements)
    products = inventory.apply(products, day_movements)

    # The files as they land: dirt spliced in, late records held back, earlier days' late records delivered.
    note("files")
    clean = {
        "customers": export_lines("customers", customer_export),
        "products": export_lines("products", product_export),
        "orders": orders.encode_orders(day_orders, products, customers),
        "order_status": orders.encode_statuses(due_status, world.next_ids["status"]),
        "events": event_lines,
        "inventory": inventory.encode_movements(day_movements, world.next_ids["movement"], product_ids),
    }
    files, reports, outbox = land(world, day, clean)
    truth = delivery_truth(world, day, customers, products, day_orders, statuses, day_movements, [day])
    world = replace(
        world,
        customers=customers,
        products=products,
        pending_status=pending_status.astype(orders.PENDING_STATUS_COLUMNS),
        pending_movements=pending_movements.astype(orders.MOVEMENT_COLUMNS),
        outbox=outbox,
        next_ids=advanced_ids(world, customers, products, len(day_orders.numbers), len(due_status), len(day_movements)),
        last_day=day,
    )
    customer_versions, product_versions = versions("customers", customer_export), versions("products", product_export)
    return world, DayOutput(day, files, reports, customer_versions, product_versions, truth)

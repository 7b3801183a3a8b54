"""The warehouse system: stock per product and warehouse, moved by sales, returns, receipts and adjustments."""

from __future__ import annotations

import functools
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from generator import encode
from generator.catalogue import stock_columns
from generator.clickstream import PURCHASE_SHARE, expected_events_per_visit
from generator.orders import ADJUSTMENT, DAY, HOUR, INITIAL, MOVEMENT_COLUMNS, RECEIPT, SALE, UNITS_PER_ORDER
from generator.pools import COUNTRIES, COUNTRY_WEIGHTS, WAREHOUSE_OF_COUNTRY
from generator.schema import ID_PREFIXES, ID_WIDTHS, MOVEMENT_TYPES, WAREHOUSES
from generator.world import day_rng, day_start_ms

REORDER_DAYS, TARGET_DAYS = 7, 30
ADJUSTMENTS_PER_PRODUCT = 0.004  # stock corrections per product and day (damage, miscounts)
# Now and then a supplier cannot deliver: the product gets no receipts for 10–28 days, in any warehouse, so its
# stock may run out while the shop goes on taking orders for it (backorders).
SUPPLIER_DELAYS_PER_DAY = 0.15  # delays starting per day, about four or five a month
SUPPLIER_DELAY_DAYS = (10, 28)
WAREHOUSE_SHARE = np.array(
    [
        sum(w for c, w in zip(COUNTRIES, COUNTRY_WEIGHTS, strict=True) if WAREHOUSE_OF_COUNTRY[c] == h)
        for h in WAREHOUSES
    ]
)


def orders_per_day(events_per_day: int) -> float:
    """Return the expected orders of a day with `events_per_day` clickstream events."""
    share = float(np.mean(PURCHASE_SHARE))
    return events_per_day / expected_events_per_visit(share) * share


def daily_demand(products: pd.DataFrame, events_per_day: int) -> np.ndarray:
    """Return the expected units sold per day, per product row and warehouse, from popularity and traffic."""
    orders = orders_per_day(events_per_day)
    weight = np.where(products["active"].to_numpy(), products["popularity"].to_numpy(), 0.0)
    total = weight.sum() or 1.0
    return orders * UNITS_PER_ORDER * (weight / total)[:, None] * WAREHOUSE_SHARE[None, :]


def initial_stock(
    products: pd.DataFrame, rows: np.ndarray, events_per_day: int, ts: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """Return an `initial` movement per warehouse for product rows `rows`, sized for about a month of sales."""
    demand = daily_demand(products, events_per_day)[rows]
    quantity = np.maximum(12, np.ceil(demand * TARGET_DAYS * rng.uniform(0.8, 1.3, demand.shape))).astype(np.int64)
    k = len(WAREHOUSES)
    return pd.DataFrame(
        {
            "product_num": np.repeat(products["num"].to_numpy()[rows], k),
            "warehouse": np.tile(np.arange(k), len(rows)).astype(np.int8),
            "movement_type": np.full(len(rows) * k, INITIAL, dtype=np.int8),
            "quantity": quantity.reshape(-1),
            "movement_ts": np.repeat(np.asarray(ts, dtype=np.int64), k),
        }
    )


def held_up(seed: int, day: date, products: pd.DataFrame, catalogue_size: int) -> np.ndarray:
    """Return a mask over product rows: the products whose supplier delivers nothing on `day`.

    Each day SUPPLIER_DELAYS_PER_DAY delays start on average (stream "supply" of that day), each for a product of
    the opening catalogue (its first `catalogue_size` rows) drawn by popularity and lasting SUPPLIER_DELAY_DAYS;
    the delays running on a day are drawn again from the days before it, so no state is kept.
    """
    cumulative = np.cumsum(products["popularity"].to_numpy()[:catalogue_size])
    held = np.zeros(len(products), dtype=bool)
    for back in range(SUPPLIER_DELAY_DAYS[1]):
        pick, length = _delays_starting(seed, day.toordinal() - back)
        rows = np.minimum(np.searchsorted(cumulative, pick * cumulative[-1]), catalogue_size - 1)
        held[rows[length > back]] = True
    return held


@functools.lru_cache(maxsize=2 * SUPPLIER_DELAY_DAYS[1])
def _delays_starting(seed: int, ordinal: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (a uniform draw picking the product, the length in days) of each supplier delay starting that day."""
    rng = day_rng(seed, date.fromordinal(ordinal), "supply")
    count = int(rng.poisson(SUPPLIER_DELAYS_PER_DAY))
    return rng.random(count), rng.integers(SUPPLIER_DELAY_DAYS[0], SUPPLIER_DELAY_DAYS[1], count, endpoint=True)


def receipts(
    products: pd.DataFrame,
    events_per_day: int,
    day_start_ms: int,
    rng: np.random.Generator,
    held: np.ndarray | None = None,
) -> pd.DataFrame:
    """Return the morning's `receipt` movements restocking active products that ran low, but for those `held`
    (a mask over product rows) up at their supplier."""
    demand = daily_demand(products, events_per_day)
    stock = products[stock_columns()].to_numpy()
    reorder = np.maximum(3, np.ceil(demand * REORDER_DAYS))
    target = np.maximum(12, np.ceil(demand * TARGET_DAYS))
    low = (stock < reorder) & products["active"].to_numpy()[:, None]
    row, warehouse = np.nonzero(low)
    # Suppliers deliver in packs of five.
    quantity = (np.ceil((target[row, warehouse] - stock[row, warehouse]) / 5) * 5).astype(np.int64)
    ts = day_start_ms + rng.integers(6 * HOUR, 11 * HOUR, len(row))
    keep = np.ones(len(row), dtype=bool) if held is None else ~held[row]  # drawn for all: the stream stays the same
    return pd.DataFrame(
        {
            "product_num": products["num"].to_numpy()[row[keep]],
            "warehouse": warehouse[keep].astype(np.int8),
            "movement_type": np.full(int(keep.sum()), RECEIPT, dtype=np.int8),
            "quantity": quantity[keep],
            "movement_ts": ts[keep].astype(np.int64),
        }
    )


def adjustments(products: pd.DataFrame, day_start_ms: int, rng: np.random.Generator) -> pd.DataFrame:
    """Return the day's stock corrections: mostly a few units damaged or missing, sometimes found again."""
    n = rng.poisson(len(products) * ADJUSTMENTS_PER_PRODUCT)
    row = rng.integers(0, len(products), n)
    quantity = rng.choice([-3, -2, -1, 1, 2], n, p=[0.15, 0.25, 0.4, 0.15, 0.05])
    return pd.DataFrame(
        {
            "product_num": products["num"].to_numpy()[row],
            "warehouse": rng.integers(0, len(WAREHOUSES), n).astype(np.int8),
            "movement_type": np.full(n, ADJUSTMENT, dtype=np.int8),
            "quantity": quantity.astype(np.int64),
            "movement_ts": (day_start_ms + rng.integers(0, encode.MS_PER_DAY, n)).astype(np.int64),
        }
    )


def in_time_order(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Return the movements of all parts in one frame, in time order (ties keep the order of the parts)."""
    frames = [p.astype(MOVEMENT_COLUMNS) for p in parts]
    movements = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(MOVEMENT_COLUMNS))
    order = np.argsort(movements["movement_ts"].to_numpy(), kind="stable")
    return movements.iloc[order].reset_index(drop=True)


def apply(products: pd.DataFrame, movements: pd.DataFrame) -> pd.DataFrame:
    """Return the products with the movements added to their stock."""
    products = products.copy()
    row = movements["product_num"].to_numpy() - 1  # products are numbered from 1 in row order
    for w, column in enumerate(stock_columns()):
        at = movements["warehouse"].to_numpy() == w
        delta = np.bincount(row[at], weights=movements["quantity"].to_numpy()[at], minlength=len(products))
        products[column] = products[column].to_numpy() + delta.astype(np.int64)
    return products


def stock_levels(products: pd.DataFrame, movements: pd.DataFrame, days: list[date]) -> pa.Table:
    """Return the truth of stock per product, warehouse and day of `days` (consecutive, oldest first): the
    quantity on hand at the end of the day and the units sold that day (its `sale` movements). `movements` are
    those of `days`; `products` holds the stock at the end of the last one."""
    n, k, span = len(products), len(WAREHOUSES), len(days)
    row = movements["product_num"].to_numpy() - 1
    day = (movements["movement_ts"].to_numpy() - day_start_ms(days[0])) // DAY
    cell = (day * n + row) * k + movements["warehouse"].to_numpy()
    quantity = movements["quantity"].to_numpy()
    net = np.bincount(cell, weights=quantity, minlength=span * n * k).reshape(span, n, k).astype(np.int64)
    sale = movements["movement_type"].to_numpy() == SALE
    sold = np.bincount(cell[sale], weights=-quantity[sale], minlength=span * n * k).astype(np.int64)
    # The end of day d is the end of the last day less what moved after d.
    after = np.cumsum(net[::-1], axis=0)[::-1] - net
    on_hand = products[stock_columns()].to_numpy().astype(np.int64)[None, :, :] - after
    product_ids = pa.array(products["product_id"].to_numpy(), type=pa.string())
    return pa.table(
        {
            "product_id": product_ids.take(np.tile(np.repeat(np.arange(n), k), span)),
            "warehouse": pa.array(WAREHOUSES).take(np.tile(np.arange(k), span * n)),
            "day": pa.array(np.repeat([day_start_ms(d) // DAY for d in days], n * k).astype(np.int32)).cast(
                pa.date32()
            ),
            "on_hand": pa.array(on_hand.reshape(-1), type=pa.int64()),
            "units_sold": pa.array(sold, type=pa.int64()),
        }
    )


def encode_movements(movements: pd.DataFrame, first_number: int, product_ids: pa.StringArray) -> pa.StringArray:
    """Return stock movements (in time order) as JSON lines with ids from `first_number` on."""
    n = len(movements)
    row = movements["product_num"].to_numpy() - 1
    return encode.json_lines(
        [
            (
                "movement_id",
                encode.json_string(
                    encode.ids(ID_PREFIXES["movement"], first_number + np.arange(n), ID_WIDTHS["movement"]),
                    escape=False,
                ),
            ),
            ("product_id", encode.json_string(product_ids.take(row), escape=False)),
            ("movement_ts", encode.json_string(encode.timestamps(movements["movement_ts"].to_numpy()), escape=False)),
            (
                "movement_type",
                encode.json_string(pa.array(MOVEMENT_TYPES).take(movements["movement_type"].to_numpy()), escape=False),
            ),
            ("quantity", encode.integers(movements["quantity"].to_numpy())),
            (
                "warehouse",
                encode.json_string(pa.array(WAREHOUSES).take(movements["warehouse"].to_numpy()), escape=False),
            ),
        ]
    )

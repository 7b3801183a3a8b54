"""The warehouse system: stock per product and warehouse, moved by sales, returns, receipts and adjustments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from generator import encode
from generator.catalogue import stock_columns
from generator.clickstream import PURCHASE_SHARE, expected_events_per_visit
from generator.orders import ADJUSTMENT, HOUR, INITIAL, MOVEMENT_COLUMNS, RECEIPT, UNITS_PER_ORDER
from generator.pools import COUNTRIES, COUNTRY_WEIGHTS, WAREHOUSE_OF_COUNTRY
from generator.schema import ID_PREFIXES, ID_WIDTHS, MOVEMENT_TYPES, WAREHOUSES

REORDER_DAYS, TARGET_DAYS = 7, 30
ADJUSTMENTS_PER_PRODUCT = 0.004  # stock corrections per product and day (damage, miscounts)
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


def receipts(products: pd.DataFrame, events_per_day: int, day_start_ms: int, rng: np.random.Generator) -> pd.DataFrame:
    """Return the morning's `receipt` movements restocking active products that ran low."""
    demand = daily_demand(products, events_per_day)
    stock = products[stock_columns()].to_numpy()
    reorder = np.maximum(3, np.ceil(demand * REORDER_DAYS))
    target = np.maximum(12, np.ceil(demand * TARGET_DAYS))
    low = (stock < reorder) & products["active"].to_numpy()[:, None]
    row, warehouse = np.nonzero(low)
    # Suppliers deliver in packs of five.
    quantity = (np.ceil((target[row, warehouse] - stock[row, warehouse]) / 5) * 5).astype(np.int64)
    ts = day_start_ms + rng.integers(6 * HOUR, 11 * HOUR, len(row))
    return pd.DataFrame(
        {
            "product_num": products["num"].to_numpy()[row],
            "warehouse": warehouse.astype(np.int8),
            "movement_type": np.full(len(row), RECEIPT, dtype=np.int8),
            "quantity": quantity,
            "movement_ts": ts.astype(np.int64),
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

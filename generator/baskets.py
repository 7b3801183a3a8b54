"""Planted "bought together" pairs: an order that holds a pair's anchor also gets its companion, with the pair's
probability, so that basket analyses can be checked against pairs that really exist.

The pairs are drawn once, when the world is made, and kept in the state. A day's buyers whose cart keeps an anchor
view and add the companion before checking out (clickstream.py); the past's orders get the companion's line
directly (history.py). Either way only while the companion is on the shelf, and never twice in one order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

PAIR_COUNT = 20  # at most; a small catalogue gets one pair per four active products
PAIR_PROBABILITY = (0.3, 0.5)  # drawn per pair: how often an order with the anchor gets the companion
PAIR_COLUMNS = {"anchor_num": "int64", "companion_num": "int64", "probability": "float64"}


def plant_pairs(products: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Return the pairs (product numbers and probability) among distinct active products, anchor and companion in
    different subcategories: anchors drawn by popularity (so they sell often enough to be seen), companions
    evenly among the other active products."""
    active = np.flatnonzero(products["active"].to_numpy())
    count = min(PAIR_COUNT, len(active) // 4)
    popularity = products["popularity"].to_numpy()[active]
    anchors = rng.choice(active, count, replace=False, p=popularity / popularity.sum()) if count else active[:0]
    path = products["category"].to_numpy().astype(object) + "/" + products["subcategory"].to_numpy()
    free = np.setdiff1d(active, anchors)
    chosen = []
    for anchor in anchors:
        candidates = free[path[free] != path[anchor]]
        if len(candidates):
            companion = candidates[rng.integers(0, len(candidates))]
            free = free[free != companion]
            chosen.append((anchor, companion))
    rows = np.array(chosen, dtype=np.int64).reshape(-1, 2)
    numbers = products["num"].to_numpy()
    return pd.DataFrame(
        {
            "anchor_num": numbers[rows[:, 0]],
            "companion_num": numbers[rows[:, 1]],
            "probability": rng.uniform(*PAIR_PROBABILITY, len(rows)),
        }
    ).astype(PAIR_COLUMNS)


def pair_rows(products: pd.DataFrame, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return the product rows of the pairs' anchors and companions."""
    numbers = products["num"].to_numpy()
    return np.searchsorted(numbers, pairs["anchor_num"].to_numpy()), np.searchsorted(
        numbers, pairs["companion_num"].to_numpy()
    )


def on_shelf(
    products: pd.DataFrame, pairs: pd.DataFrame, shelf_rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (anchor, companion, probability) of the pairs whose anchor and companion are both among `shelf_rows`
    (sorted product rows), the products as positions in `shelf_rows`."""
    anchor, companion = pair_rows(products, pairs)
    listed = np.zeros(len(products), dtype=bool)
    listed[shelf_rows] = True
    both = listed[anchor] & listed[companion]
    probability = pairs["probability"].to_numpy()[both]
    return np.searchsorted(shelf_rows, anchor[both]), np.searchsorted(shelf_rows, companion[both]), probability


def companions(
    group: np.ndarray,
    item: np.ndarray,
    eligible: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    space: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (positions of the lines that bring their companion, the companions) for lines of `item`s (ints below
    `space`) grouped by `group`: an `eligible` line holding a pair's anchor brings the companion with the pair's
    probability, unless the group already holds it."""
    anchor, companion, probability = pairs
    pair_of = np.full(space, -1, dtype=np.int64)
    pair_of[anchor] = np.arange(len(anchor))
    candidates = np.flatnonzero(eligible & (pair_of[item] >= 0))
    pair = pair_of[item[candidates]]
    drawn = rng.random(len(candidates)) < probability[pair]
    candidates, extra = candidates[drawn], companion[pair[drawn]]
    present = np.isin(group[candidates] * space + extra, group * space + item)
    return candidates[~present], extra[~present]


def truth(products: pd.DataFrame, pairs: pd.DataFrame) -> pa.Table:
    """Return the truth table of the planted pairs: `product_id_a` (anchor), `product_id_b` (companion), and
    `probability`."""
    anchor, companion = pair_rows(products, pairs)
    ids = products["product_id"].to_numpy()
    return pa.table(
        {
            "product_id_a": pa.array(ids[anchor], type=pa.string()),
            "product_id_b": pa.array(ids[companion], type=pa.string()),
            "probability": pa.array(pairs["probability"].to_numpy(), type=pa.float64()),
        }
    )

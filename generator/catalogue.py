"""The product catalogue: a category tree, products with brand, price and cost, and their daily changes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from generator import encode
from generator.pools import Pools
from generator.schema import ID_PREFIXES, ID_WIDTHS, WAREHOUSES

# category -> subcategory -> (typical price in cents, nouns a product name is built from)
CATEGORY_TREE: dict[str, dict[str, tuple[int, tuple[str, ...]]]] = {
    "Electronics": {
        "Phones": (39_900, ("Smartphone", "Phone", "Foldable Phone", "Senior Phone")),
        "Laptops": (89_900, ("Laptop", "Notebook", "Ultrabook", "Chromebook")),
        "Audio": (7_900, ("Headphones", "Earbuds", "Bluetooth Speaker", "Soundbar")),
        "Accessories": (1_900, ("USB-C Charger", "Cable Set", "Power Bank", "Phone Case", "Screen Protector")),
    },
    "Home": {
        "Kitchen": (3_900, ("Kettle", "Blender", "Knife Set", "Frying Pan", "Coffee Grinder", "Toaster")),
        "Furniture": (19_900, ("Desk", "Armchair", "Bookshelf", "Side Table", "Office Chair")),
        "Decor": (2_900, ("Vase", "Candle Set", "Wall Clock", "Cushion Cover", "Picture Frame")),
        "Bedding": (4_900, ("Duvet", "Pillow", "Bed Linen Set", "Throw Blanket")),
    },
    "Fashion": {
        "Shoes": (8_900, ("Sneakers", "Running Shoes", "Chelsea Boots", "Sandals", "Loafers")),
        "Women": (4_900, ("Dress", "Blouse", "Slim Jeans", "Wool Coat", "Knit Cardigan")),
        "Men": (4_900, ("Oxford Shirt", "Chinos", "Rain Jacket", "Merino Sweater", "Polo Shirt")),
        "Accessories": (2_900, ("Leather Belt", "Scarf", "Backpack", "Sunglasses", "Wallet")),
    },
    "Sports": {
        "Fitness": (3_900, ("Yoga Mat", "Dumbbell Set", "Resistance Bands", "Kettlebell", "Jump Rope")),
        "Outdoor": (6_900, ("Tent", "Sleeping Bag", "Hiking Backpack", "Headlamp", "Trekking Poles")),
        "Cycling": (4_900, ("Bike Helmet", "Bike Light Set", "Cycling Gloves", "Bike Lock")),
    },
    "Beauty": {
        "Skincare": (1_900, ("Face Cream", "Serum", "Cleanser", "Sunscreen SPF 50")),
        "Haircare": (1_500, ("Shampoo", "Conditioner", "Hair Oil", "Hair Dryer")),
        "Fragrance": (5_900, ("Eau de Parfum", "Eau de Toilette", "Body Mist")),
    },
    "Toys": {
        "Games": (2_900, ("Board Game", "Card Game", "Jigsaw Puzzle")),
        "Building": (3_900, ("Building Set", "Marble Run", "Construction Kit")),
    },
}
CATEGORY_WEIGHTS = {"Electronics": 0.2, "Home": 0.25, "Fashion": 0.3, "Sports": 0.1, "Beauty": 0.1, "Toys": 0.05}
CATEGORIES = list(CATEGORY_TREE)
NAME_SUFFIXES = (
    "",
    "",
    "Classic",
    "Pro",
    "Essential",
    "Ultra",
    "Compact",
    "Premium",
    "Eco",
    "Lite",
    "Max",
    "Original",
    "Air",
    "2",
    "3",
    "X",
    "Plus",
    "Mini",
)

# Flattened subcategories, so numpy can index them.
_SUBS = [(cat, sub, median, nouns) for cat, subs in CATEGORY_TREE.items() for sub, (median, nouns) in subs.items()]
SUB_CATEGORY = pa.array([s[0] for s in _SUBS])
SUB_NAME = pa.array([s[1] for s in _SUBS])
SUB_OF_CATEGORY = np.array([CATEGORIES.index(s[0]) for s in _SUBS])
SUB_MEDIAN = np.array([s[2] for s in _SUBS], dtype=np.float64)
SUB_WEIGHTS = np.array([CATEGORY_WEIGHTS[s[0]] / len(CATEGORY_TREE[s[0]]) for s in _SUBS])
_NOUN_SIZE = np.array([len(s[3]) for s in _SUBS])
_NOUN_START = np.concatenate([[0], np.cumsum(_NOUN_SIZE)[:-1]])
_NOUNS = pa.array([noun for s in _SUBS for noun in s[3]])
_SKU_PREFIX = pa.array([cat[:3].upper() for cat in CATEGORIES])

PRODUCT_CHANGE_RATE = 0.01
NEW_PRODUCT_RATE = 0.0005  # of the catalogue, per day


def stock_columns() -> list[str]:
    """Return the state columns holding stock on hand, one per warehouse."""
    return [f"stock_{w}" for w in WAREHOUSES]


def _price(median: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return shelf prices in cents around `median`, ending in .99 the way shops price."""
    raw = median * rng.lognormal(0.0, 0.45, len(median))
    return np.maximum(np.round(raw / 100.0), 2).astype(np.int64) * 100 - 1


def _cost(price: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return costs in cents that leave a margin of 20–60% of the price."""
    margin = rng.uniform(0.2, 0.6, len(price))
    return np.round(price * (1.0 - margin)).astype(np.int64)


def make_products(
    pools: Pools, numbers: np.ndarray, created_ms: np.ndarray, updated_ms: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """Return new products (state columns, no stock yet) numbered `numbers`."""
    n = len(numbers)
    sub = rng.choice(len(_SUBS), n, p=SUB_WEIGHTS)
    category = SUB_OF_CATEGORY[sub]
    brand_sizes = np.array([len(pools.brands[c]) for c in CATEGORIES])
    brand_starts = np.concatenate([[0], np.cumsum(brand_sizes)[:-1]])
    brand_pool = pa.array([b for c in CATEGORIES for b in pools.brands[c]])
    brand = brand_pool.take(brand_starts[category] + (rng.random(n) * brand_sizes[category]).astype(np.int64))
    noun = _NOUNS.take(_NOUN_START[sub] + (rng.random(n) * _NOUN_SIZE[sub]).astype(np.int64))
    suffix = pa.array(NAME_SUFFIXES).take(rng.integers(0, len(NAME_SUFFIXES), n))
    name = pc.utf8_trim_whitespace(pc.binary_join_element_wise(brand, " ", noun, " ", suffix, ""))
    # A multiplicative scramble of the number keeps SKUs unique without looking sequential.
    sku_number = (np.asarray(numbers, dtype=np.int64) * 7919 + 104_729) % 1_000_000
    sku = pc.binary_join_element_wise(_SKU_PREFIX.take(category), "-", encode.ids("", sku_number, 6), "")
    price = _price(SUB_MEDIAN[sub], rng)
    frame = pd.DataFrame(
        {
            "num": np.asarray(numbers, dtype=np.int64),
            "product_id": encode.ids(ID_PREFIXES["product"], numbers, ID_WIDTHS["product"]).to_numpy(
                zero_copy_only=False
            ),
            "sku": sku.to_numpy(zero_copy_only=False),
            "name": name.to_numpy(zero_copy_only=False),
            "category": SUB_CATEGORY.take(sub).to_numpy(zero_copy_only=False),
            "subcategory": SUB_NAME.take(sub).to_numpy(zero_copy_only=False),
            "brand": brand.to_numpy(zero_copy_only=False),
            "price": price,
            "cost": _cost(price, rng),
            "active": rng.random(n) < 0.97,
            "updated_at": np.asarray(updated_ms, dtype=np.int64),
            "created_at": np.asarray(created_ms, dtype=np.int64),
            "popularity": rng.lognormal(0.0, 1.1, n),
        }
    )
    for column in stock_columns():
        frame[column] = np.zeros(n, dtype=np.int64)
    return frame


@dataclass(frozen=True)
class ProductChanges:
    """What changed in the catalogue during one day, for looking up a product as of a moment."""

    changed: np.ndarray  # row positions of changed products
    change_ts: np.ndarray  # per product: when it changed today, int64 max if it did not
    price_before: np.ndarray  # per product: price in cents before today's change
    active_before: np.ndarray  # per product: active flag before today's change

    def price_at(self, products: pd.DataFrame, rows: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Return the price in cents of product rows `rows` at moments `ts`."""
        now = products["price"].to_numpy()[rows]
        return np.where(ts >= self.change_ts[rows], now, self.price_before[rows])


def change_products(
    products: pd.DataFrame, day_start_ms: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, ProductChanges]:
    """Return the catalogue after about 1% of products changed price/cost, category or active flag today."""
    n = len(products)
    existing = np.flatnonzero(products["created_at"].to_numpy() < day_start_ms)
    count = min(rng.binomial(len(existing), PRODUCT_CHANGE_RATE), len(existing))
    rows = np.sort(rng.choice(existing, count, replace=False))
    kind = rng.choice(3, count, p=[0.7, 0.1, 0.2])  # price, category, active
    products = products.copy()
    price = products["price"].to_numpy().copy()
    cost = products["cost"].to_numpy().copy()
    active = products["active"].to_numpy().copy()
    price_before, active_before = price.copy(), active.copy()

    is_price = rows[kind == 0]
    factor = rng.choice([-1.0, 1.0], len(is_price)) * rng.uniform(0.03, 0.2, len(is_price)) + 1.0
    new_price = np.maximum(np.round(price[is_price] * factor / 100.0), 2).astype(np.int64) * 100 - 1
    # Usually the supplier's cost moves with the price; keep the margin within 20–60% either way.
    new_cost = np.where(rng.random(len(is_price)) < 0.7, np.round(cost[is_price] * factor), cost[is_price])
    new_cost = np.clip(new_cost, np.round(new_price * 0.4), np.round(new_price * 0.8)).astype(np.int64)
    same = new_price == price[is_price]
    new_price[same] += 100  # a change must change something
    price[is_price], cost[is_price] = new_price, new_cost

    is_category = rows[kind == 1]
    paths = products["category"].to_numpy()[is_category] + "/" + products["subcategory"].to_numpy()[is_category]
    current = pd.Index([f"{s[0]}/{s[1]}" for s in _SUBS]).get_indexer(paths)
    shift = rng.integers(1, len(_SUBS), len(is_category))
    new_sub = (current + shift) % len(_SUBS)
    products.loc[products.index[is_category], "category"] = SUB_CATEGORY.take(new_sub).to_numpy(zero_copy_only=False)
    products.loc[products.index[is_category], "subcategory"] = SUB_NAME.take(new_sub).to_numpy(zero_copy_only=False)

    is_active = rows[kind == 2]
    active[is_active] = ~active[is_active]

    change_ts = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    change_ts[rows] = day_start_ms + rng.integers(0, encode.MS_PER_DAY, count)
    products["price"], products["cost"], products["active"] = price, cost, active
    updated = products["updated_at"].to_numpy().copy()
    updated[rows] = change_ts[rows]
    products["updated_at"] = updated
    return products, ProductChanges(rows, change_ts, price_before, active_before)

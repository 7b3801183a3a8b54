"""The generator's options and evolving world, and how both are kept under `landing/_generator/`."""

from __future__ import annotations

import calendar
import io
import json
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from generator import baskets, catalogue, crm
from generator.faults import empty_outbox
from generator.orders import MOVEMENT_COLUMNS, PENDING_STATUS_COLUMNS, empty
from generator.pools import Pools, build_pools
from lakehouse.errors import UserError
from lakehouse.warehouse import Warehouse

STATE_FORMAT = 2  # 2: customers carry their churn day, and the planted basket pairs are kept
EPOCH = date(1970, 1, 1)
DAY_MS = 86_400_000
MAX_DAYS = 3660
MAX_HISTORY_MONTHS = 60
# Streams of randomness per (seed, day): each part of the shop draws from its own, so changing one part
# leaves the others' numbers alone.
STREAMS = (
    "world",
    "customers",
    "products",
    "traffic",
    "orders",
    "inventory",
    "events",
    "faults",
    "signups",
    "launches",
    "fulfilment",  # which shipments are late, and by how much
    "supply",  # which products' supplier deliveries are held up
    "churn",  # each customer's churn day, drawn when they are made
    "baskets",  # which orders' planted anchors bring their companion
)


def day_rng(seed: int, day: date, stream: str) -> np.random.Generator:
    """Return the random generator for one stream of one day, derived only from (seed, day, stream)."""
    return np.random.default_rng([seed, day.toordinal(), STREAMS.index(stream)])


def day_start_ms(day: date) -> int:
    """Return the epoch milliseconds of midnight UTC starting `day`."""
    return (day - EPOCH).days * DAY_MS


@dataclass(frozen=True)
class GeneratorOptions:
    """What a warehouse's shop looks like. Stored on the first run; later runs continue with it."""

    seed: int = 42
    start_date: date = date(2026, 1, 1)
    customers: int = 10_000
    products: int = 500
    events_per_day: int = 33_000
    dirty_rate: float = 0.005
    history_months: int = 0  # months of past orders delivered as one batch the day before start_date

    def history_start(self) -> date | None:
        """Return the first day of the shop's past (history_months before start_date), or None without one."""
        if not self.history_months:
            return None
        months = self.start_date.year * 12 + self.start_date.month - 1 - self.history_months
        year, month = divmod(months, 12)
        return date(year, month + 1, min(self.start_date.day, calendar.monthrange(year, month + 1)[1]))

    def history_day(self) -> date | None:
        """Return the day the past is delivered on (the day before start_date), or None without a past."""
        return date.fromordinal(self.start_date.toordinal() - 1) if self.history_months else None

    def as_json(self) -> dict:
        """Return the options as a JSON-ready dict."""
        return {**asdict(self), "start_date": self.start_date.isoformat()}

    @classmethod
    def from_json(cls, raw: dict) -> GeneratorOptions:
        """Return options read back from `as_json`."""
        return cls(**{**raw, "start_date": date.fromisoformat(raw["start_date"])})


# Options fixed by the first run: the seed and start shape the whole history, the counts the initial population.
# A later run may change the others; the new value is stored and applies from the next day written.
FIXED_OPTIONS = ("seed", "start_date", "customers", "products", "history_months")
_FLAGS = {
    "seed": "--seed",
    "start_date": "--start-date",
    "customers": "--customers",
    "products": "--products",
    "events_per_day": "--events-per-day",
    "dirty_rate": "--dirty-rate",
    "history_months": "--history-months",
}


def parse_start_date(value: object) -> date:
    """Return `value` as a date, or raise a UserError for text that is not YYYY-MM-DD."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise UserError(f"start date {value!r} is not a date: use YYYY-MM-DD, e.g. 2026-01-01") from None


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise UserError(f"{_FLAGS.get(name, name)} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise UserError(f"{_FLAGS.get(name, name)} must be between {low:,} and {high:,}, got {value:,}")
    return int(value)


def validate_days(days: object) -> int:
    """Return `days` if it is a sensible number of days to generate, else raise a UserError."""
    return _check_int("--days", days, 1, MAX_DAYS)


def resolve_options(stored: GeneratorOptions | None, **given: object) -> GeneratorOptions:
    """Return the options for this run: the stored ones (or defaults) with the explicitly given ones applied.

    A given option that differs from one fixed by the first run is a UserError.
    """
    given = {k: v for k, v in given.items() if v is not None}
    if "start_date" in given:
        given["start_date"] = parse_start_date(given["start_date"])
    base = stored or GeneratorOptions()
    if stored is not None:
        for name in FIXED_OPTIONS:
            if name in given and given[name] != getattr(stored, name):
                shown = getattr(stored, name)
                raise UserError(
                    f"this warehouse was generated with {_FLAGS[name]} {shown}: leave {_FLAGS[name]} out to "
                    "continue it, or point LAKEHOUSE_WAREHOUSE at a new warehouse"
                )
    options = replace(base, **given)  # type: ignore[arg-type]  # given maps option names to CLI values
    _check_int("seed", options.seed, 0, 2**63 - 1)
    _check_int("customers", options.customers, 10, 5_000_000)
    _check_int("products", options.products, 10, 50_000)
    _check_int("events_per_day", options.events_per_day, 0, 5_000_000)
    _check_int("history_months", options.history_months, 0, MAX_HISTORY_MONTHS)
    rate = options.dirty_rate
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 0.5:
        raise UserError(f"--dirty-rate must be a share between 0 and 0.5, got {rate!r}")
    return replace(options, dirty_rate=float(rate))


@dataclass(frozen=True)
class World:
    """Everything the generator needs to write the next day: the shop as it stands and what is still to come."""

    options: GeneratorOptions
    pools: Pools
    customers: pd.DataFrame
    products: pd.DataFrame
    pairs: pd.DataFrame  # planted "bought together" pairs (baskets.py), fixed when the world is made
    pending_status: pd.DataFrame  # status changes of earlier orders that have not happened yet
    pending_movements: pd.DataFrame  # returns and cancellations that have not happened yet
    outbox: pd.DataFrame  # lines written on a later day than they were made (late records, duplicates)
    next_ids: dict[str, int]
    last_day: date | None

    def next_day(self) -> date:
        """Return the first day not written yet."""
        if self.last_day is None:
            return self.options.start_date
        return date.fromordinal(self.last_day.toordinal() + 1)


def new_world(options: GeneratorOptions, pools: Pools | None = None) -> World:
    """Return the shop as it stands before its first day: customers and products that already exist."""
    pools = pools or build_pools(options.seed, catalogue.CATEGORIES)
    rng = day_rng(options.seed, options.start_date, "world")
    start_ms = day_start_ms(options.start_date)
    start_day = start_ms // DAY_MS

    history = options.history_start()
    # With a past, the customers signed up over it and the catalogue stood before it (the past's orders meet
    # one version of each, so a customer's version is the one of their sign-up and a product's is older).
    catalogue_ms = day_start_ms(history) if history else start_ms
    n = options.customers
    if history:
        signup = start_day - rng.integers(1, start_day - day_start_ms(history) // DAY_MS + 1, n)
    else:
        signup = start_day - rng.integers(1, 3 * 365, n)
    created = signup * DAY_MS + rng.integers(0, DAY_MS, n)
    # Some customers changed something since they signed up; the first export shows their latest version.
    touched = (rng.random(n) < 0.4) & (history is None)
    updated = np.where(touched, created + (rng.random(n) * (start_ms - created)).astype(np.int64), created)
    order = np.argsort(created, kind="stable")  # customer numbers follow sign-up order
    customers = crm.make_customers(pools, np.arange(1, n + 1), signup[order], created[order], updated[order], rng)
    # Lifetimes come from their own stream (of the day before the first, which no day's sign-ups use).
    eve = date.fromordinal(options.start_date.toordinal() - 1)
    customers = crm.with_churn(customers, day_rng(options.seed, eve, "churn"))

    m = options.products
    p_created = np.sort(catalogue_ms - rng.integers(DAY_MS, 2 * 365 * DAY_MS, m))
    p_updated = np.where(
        rng.random(m) < 0.5, p_created + (rng.random(m) * (catalogue_ms - p_created)).astype(np.int64), p_created
    )
    products = catalogue.make_products(pools, np.arange(1, m + 1), p_created, p_updated, rng)
    return World(
        options=options,
        pools=pools,
        customers=customers,
        products=products,
        pairs=baskets.plant_pairs(products, rng),
        pending_status=empty(PENDING_STATUS_COLUMNS),
        pending_movements=empty(MOVEMENT_COLUMNS),
        outbox=empty_outbox(),
        next_ids={"customer": n + 1, "product": m + 1, "order": 1, "status": 1, "movement": 1},
        last_day=None,
    )


# -- persistence ------------------------------------------------------------------------------------------------

_TABLES = ("customers", "products", "pairs", "pending_status", "pending_movements", "outbox")


def _parquet(frame: pd.DataFrame) -> bytes:
    """Return a frame as Parquet bytes, strings typed as strings even when the frame is empty."""
    schema = pa.schema(
        [(c, pa.string() if frame[c].dtype == object else pa.from_numpy_dtype(frame[c].dtype)) for c in frame.columns]
    )
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), sink)
    return sink.getvalue()


def _frame(data: bytes) -> pd.DataFrame:
    return pq.read_table(pa.BufferReader(data)).to_pandas()


def state_uri(warehouse: Warehouse) -> str:
    """Return where the generator's state.json lives."""
    return warehouse.generator_dir("state.json")


def load_options(warehouse: Warehouse) -> GeneratorOptions | None:
    """Return the options stored in the warehouse, or None if the generator never ran there."""
    uri = state_uri(warehouse)
    if not warehouse.exists(uri):
        return None
    return GeneratorOptions.from_json(json.loads(warehouse.read_bytes(uri))["options"])


def load_last_day(warehouse: Warehouse) -> date | None:
    """Return the last day the generator wrote into the warehouse, or None."""
    uri = state_uri(warehouse)
    if not warehouse.exists(uri):
        return None
    last = json.loads(warehouse.read_bytes(uri))["last_day"]
    return date.fromisoformat(last) if last else None


def load_world(warehouse: Warehouse, options: GeneratorOptions) -> World:
    """Return the world as the last run left it (or as before day one if no day was written yet)."""
    state = json.loads(warehouse.read_bytes(state_uri(warehouse)))
    if state.get("format") != STATE_FORMAT:
        raise UserError(
            f"{state_uri(warehouse)} was written by another version of the generator: start a new warehouse"
        )
    pools = Pools.from_json(warehouse.read_bytes(warehouse.generator_dir("pools.json")))
    if state["last_day"] is None:
        return new_world(options, pools)
    tables = {name: _frame(warehouse.read_bytes(warehouse.generator_dir(f"{name}.parquet"))) for name in _TABLES}
    return World(
        options=options,
        pools=pools,
        next_ids={k: int(v) for k, v in state["next_ids"].items()},
        last_day=date.fromisoformat(state["last_day"]),
        **tables,
    )


def save_state(warehouse: Warehouse, world: World) -> None:
    """Write state.json (options, last day, id counters) and, once a day was written, the world's tables."""
    if world.last_day is not None:
        for name in _TABLES:
            warehouse.write_bytes(warehouse.generator_dir(f"{name}.parquet"), _parquet(getattr(world, name)))
    state = {
        "format": STATE_FORMAT,
        "options": world.options.as_json(),
        "last_day": world.last_day.isoformat() if world.last_day else None,
        "next_ids": world.next_ids,
    }
    warehouse.write_bytes(state_uri(warehouse), json.dumps(state, indent=2).encode("utf-8") + b"\n")


def save_pools(warehouse: Warehouse, pools: Pools) -> None:
    """Write the value pools, so later runs neither rebuild them nor depend on Faker's version."""
    warehouse.write_bytes(warehouse.generator_dir("pools.json"), pools.to_json())

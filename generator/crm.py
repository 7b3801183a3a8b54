"""The CRM: customers with names, contact details and addresses, sign-ups and daily changes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from generator import encode
from generator.pools import COUNTRIES, COUNTRY_WEIGHTS, NUMBER_FIRST, PHONE_FORMATS, Pools
from generator.schema import ID_PREFIXES, ID_WIDTHS

CUSTOMER_CHANGE_RATE = 0.005
# Columns a change may touch.
_CHANGING = ("email", "phone", "street_address", "city", "postal_code", "country", "marketing_opt_in", "updated_at")
SIGNUP_RATE = 0.0015  # new customers per existing customer and day
OPT_IN_SHARE = 0.4
# Customers leave: an exponential lifetime from sign-up (about a third of a year's sign-ups are gone a year on),
# their activity fading linearly to nothing over the last FADE_DAYS before the day they are gone.
LIFETIME_DAYS = 400
FADE_DAYS = 60
_EMAIL_SEPARATORS = pa.array([".", ".", "_", "", "-"])
_COUNTRY_CODES = pa.array(list(COUNTRIES))
_PHONE_PREFIX = pa.array([PHONE_FORMATS[c][0] + " " for c in COUNTRIES])
_PHONE_DIGITS = np.array([PHONE_FORMATS[c][1] for c in COUNTRIES])
_NUMBER_FIRST = np.array([c in NUMBER_FIRST for c in COUNTRIES])


def _strings(values: pa.Array) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False)


def _emails(pools: Pools, first: np.ndarray, last: np.ndarray, country: np.ndarray, rng: np.random.Generator):
    """Return email addresses derived from the name, a separator, an optional number and a local domain."""
    flat = pools.flat
    n = len(first)
    number = rng.integers(1, 100, n)
    year = rng.integers(1955, 2006, n)
    suffix_kind = rng.choice(3, n, p=[0.55, 0.3, 0.15])
    suffix = pc.if_else(
        pa.array(suffix_kind == 0),
        "",
        pc.if_else(pa.array(suffix_kind == 1), encode.integers(number), encode.integers(year)),
    )
    # Some people use only the initial of their first name.
    first_part = pc.if_else(
        pa.array(rng.random(n) < 0.15),
        pc.utf8_slice_codeunits(flat.first_slugs.take(first), 0, 1),
        flat.first_slugs.take(first),
    )
    local = pc.binary_join_element_wise(
        first_part,
        _EMAIL_SEPARATORS.take(rng.integers(0, len(_EMAIL_SEPARATORS), n)),
        flat.last_slugs.take(last),
        suffix,
        "",
    )
    domain = flat.domains.values.take(flat.domains.sample(country, rng))
    return pc.binary_join_element_wise(local, "@", domain, "")


def _phones(country: np.ndarray, rng: np.random.Generator) -> pa.StringArray:
    """Return phone numbers like `+49 1512 3456789` in each country's length."""
    n = len(country)
    width = _PHONE_DIGITS[country]
    area = rng.integers(1, 10, n) * 1000 + rng.integers(0, 1000, n)
    subscriber = rng.integers(0, 10**7, n) % (10 ** (width - 4))
    local = pc.if_else(pa.array(width == 10), encode.ids("", subscriber, 6), encode.ids("", subscriber % 100_000, 5))
    return pc.binary_join_element_wise(_PHONE_PREFIX.take(country), encode.integers(area), " ", local, "")


def _addresses(pools: Pools, country: np.ndarray, rng: np.random.Generator):
    """Return (street_address, city, postal_code) arrays for customers living in `country`."""
    flat = pools.flat
    n = len(country)
    street = flat.streets.values.take(flat.streets.sample(country, rng))
    number = encode.integers(rng.integers(1, 180, n))
    address = pc.if_else(
        pa.array(_NUMBER_FIRST[country]),
        pc.binary_join_element_wise(number, " ", street, ""),
        pc.binary_join_element_wise(street, " ", number, ""),
    )
    city = flat.cities.sample(country, rng)
    return _strings(address), _strings(flat.cities.values.take(city)), _strings(flat.postal_codes.take(city))


def make_customers(
    pools: Pools,
    numbers: np.ndarray,
    signup_day: np.ndarray,
    created_ms: np.ndarray,
    updated_ms: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Return new customers (state columns) numbered `numbers`."""
    n = len(numbers)
    flat = pools.flat
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_WEIGHTS)
    first = flat.first_names.sample(country, rng)
    last = flat.last_names.sample(country, rng)
    street, city, postal = _addresses(pools, country, rng)
    return pd.DataFrame(
        {
            "num": np.asarray(numbers, dtype=np.int64),
            "customer_id": _strings(encode.ids(ID_PREFIXES["customer"], numbers, ID_WIDTHS["customer"])),
            "first_name": _strings(flat.first_names.values.take(first)),
            "last_name": _strings(flat.last_names.values.take(last)),
            "email": _strings(_emails(pools, first, last, country, rng)),
            "phone": _strings(_phones(country, rng)),
            "street_address": street,
            "city": city,
            "postal_code": postal,
            "country": _strings(_COUNTRY_CODES.take(country)),
            "signup_date": np.asarray(signup_day, dtype=np.int64),
            "marketing_opt_in": rng.random(n) < OPT_IN_SHARE,
            "updated_at": np.asarray(updated_ms, dtype=np.int64),
            "created_at": np.asarray(created_ms, dtype=np.int64),
            # How often a customer visits and buys: most rarely, a few often.
            "activity": rng.lognormal(0.0, 1.0, n),
        }
    )


def with_churn(customers: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Return new customers with their churn day (epoch day): the first day they are gone, at least a day after
    sign-up. From then on they neither visit logged in nor order."""
    lifetime = rng.exponential(LIFETIME_DAYS, len(customers)).astype(np.int64)
    return customers.assign(churn_day=customers["signup_date"].to_numpy() + 1 + lifetime)


def activity_on(customers: pd.DataFrame, day: int) -> np.ndarray:
    """Return each customer's activity on epoch day `day`: full until FADE_DAYS before their churn day, then
    fading linearly, and 0 from the churn day on."""
    left = customers["churn_day"].to_numpy() - day
    return customers["activity"].to_numpy() * np.clip(left / FADE_DAYS, 0.0, 1.0)


def churned(customers: pd.DataFrame, first: int, last: int) -> pa.Table:
    """Return the truth table of customers whose churn day is in first..last (epoch days): `customer_id` and
    `churned_on`, the first day they are gone."""
    churn = customers["churn_day"].to_numpy()
    rows = np.flatnonzero((churn >= first) & (churn <= last))
    return pa.table(
        {
            "customer_id": pa.array(customers["customer_id"].to_numpy()[rows], type=pa.string()),
            "churned_on": pa.array(churn[rows].astype(np.int32), type=pa.int32()).cast(pa.date32()),
        }
    )


@dataclass(frozen=True)
class CustomerChanges:
    """What changed in the CRM during one day, for looking up a customer as of a moment."""

    changed: np.ndarray  # row positions of changed customers
    change_ts: np.ndarray  # per customer: when it changed today, int64 max if it did not
    country_before: np.ndarray  # per customer: country before today's change

    def country_at(self, customers: pd.DataFrame, rows: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Return the country of customer rows `rows` at moments `ts`."""
        now = customers["country"].to_numpy()[rows]
        return np.where(ts >= self.change_ts[rows], now, self.country_before[rows])


def change_customers(
    customers: pd.DataFrame, pools: Pools, day_start_ms: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, CustomerChanges]:
    """Return the customers after about 0.5% of them moved, changed email or phone, or flipped their opt-in.

    A customer changes at most once a day, so each day's export carries every version there was.
    """
    n = len(customers)
    existing = np.flatnonzero(customers["created_at"].to_numpy() < day_start_ms)
    count = min(rng.binomial(len(existing), CUSTOMER_CHANGE_RATE), len(existing))
    rows = np.sort(rng.choice(existing, count, replace=False))
    # One main change per customer, and sometimes a second one with it.
    kinds = np.zeros((count, 4), dtype=bool)  # move, email, phone, opt-in
    kinds[np.arange(count), rng.choice(4, count, p=[0.35, 0.25, 0.1, 0.3])] = True
    kinds[np.arange(count), rng.integers(0, 4, count)] |= rng.random(count) < 0.15
    # Whole columns are changed as arrays and put back at once: cheaper than many pandas row updates.
    column = {c: customers[c].to_numpy().copy() for c in _CHANGING}
    country_before = customers["country"].to_numpy()
    country_idx = pd.Index(list(COUNTRIES)).get_indexer(country_before[rows])

    def put(name: str, at: np.ndarray, values: np.ndarray, differ: str) -> None:
        """Set new values, nudged by `differ` where one happens to equal the old value (a change must change)."""
        values = np.asarray(values, dtype=object)
        same = values == column[name][at]
        values[same] = values[same] + differ
        column[name][at] = values

    movers = rows[kinds[:, 0]]
    if len(movers):
        # Most moves stay in the country; some cross a border.
        stay = rng.random(count) < 0.85
        target = np.where(stay, country_idx, rng.choice(len(COUNTRIES), count, p=COUNTRY_WEIGHTS))[kinds[:, 0]]
        street, city, postal = _addresses(pools, target, rng)
        put("street_address", movers, street, "a")
        column["city"][movers] = city
        column["postal_code"][movers] = postal
        column["country"][movers] = _strings(_COUNTRY_CODES.take(target))

    mailers = rows[kinds[:, 1]]
    if len(mailers):
        flat = pools.flat
        first = pc.index_in(pa.array(customers["first_name"].to_numpy()[mailers], pa.string()), flat.first_names.values)
        last = pc.index_in(pa.array(customers["last_name"].to_numpy()[mailers], pa.string()), flat.last_names.values)
        first, last = first.to_numpy(zero_copy_only=False), last.to_numpy(zero_copy_only=False)
        put("email", mailers, _strings(_emails(pools, first, last, country_idx[kinds[:, 1]], rng)), ".")

    callers = rows[kinds[:, 2]]
    if len(callers):
        put("phone", callers, _strings(_phones(country_idx[kinds[:, 2]], rng)), "0")

    flippers = rows[kinds[:, 3]]
    column["marketing_opt_in"][flippers] = ~column["marketing_opt_in"][flippers]

    change_ts = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    change_ts[rows] = day_start_ms + rng.integers(0, encode.MS_PER_DAY, count)
    column["updated_at"][rows] = change_ts[rows]
    customers = customers.assign(**column)
    return customers, CustomerChanges(rows, change_ts, country_before)

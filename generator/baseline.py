"""The obvious way to generate clickstream events, kept to measure the vectorised generator against.

`baseline_events` writes the same entity as the generator (the same fields, the same funnel, one JSON object per
line) the way most synthetic-data scripts do: a Python loop over visits and events, Faker for every id, and
`json.dumps` per row. `compare` times it against the vectorised path on the same number of events.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from faker import Faker

from generator import clickstream, encode
from generator.clickstream import (
    DEVICE_WEIGHTS,
    ORDER_LINE_WEIGHTS,
    PAGES,
    REFERRERS,
    REMOVE_SHARE,
    SHOP,
    VISIT_KIND_WEIGHTS,
    VISITOR_COUNTRIES,
)
from generator.schema import DEVICES

_KINDS = ("bounce", "browse", "cart", "checkout", "purchase")


@dataclass(frozen=True)
class Comparison:
    """Rows per second of the vectorised generator and of the per-row Faker loop on the same events."""

    events: int
    vectorised_rows: int
    vectorised_seconds: float
    baseline_rows: int
    baseline_seconds: float

    @property
    def vectorised_rows_per_second(self) -> float:
        return self.vectorised_rows / self.vectorised_seconds

    @property
    def baseline_rows_per_second(self) -> float:
        return self.baseline_rows / self.baseline_seconds

    @property
    def speedup(self) -> float:
        """Return how many times more rows per second the vectorised path writes."""
        return self.vectorised_rows_per_second / self.baseline_rows_per_second


def baseline_events(
    events: int, seed: int = 42, day: date = date(2026, 1, 1), customers: int = 10_000, products: int = 500
) -> bytes:
    """Return about `events` clickstream events as JSON lines, generated one row at a time with Faker."""
    fake = Faker()
    fake.seed_instance(seed)
    rnd = random.Random(seed)
    pages = PAGES.to_pylist()
    referrers = REFERRERS.to_pylist()
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    purchase_share = 0.03
    kind_weights = [*(VISIT_KIND_WEIGHTS / VISIT_KIND_WEIGHTS.sum() * (1 - purchase_share)), purchase_share]
    cookies: dict[tuple[int, int], str] = {}
    order_number = 0
    lines: list[tuple[str, str]] = []  # (event_ts, line): the tracker writes in time order
    while len(lines) < events:
        kind = rnd.choices(_KINDS, weights=kind_weights)[0]
        device = rnd.choices(range(3), weights=DEVICE_WEIGHTS.tolist())[0]
        customer = rnd.randint(1, customers) if kind == "purchase" or rnd.random() < 0.3 else None
        if customer is not None:
            anonymous_id = cookies.setdefault((customer, device), fake.uuid4())
            country = VISITOR_COUNTRIES[customer % 6]
        else:
            anonymous_id = fake.uuid4()
            country = rnd.choice(VISITOR_COUNTRIES)

        steps = _funnel(kind, products, rnd)
        if kind == "purchase":
            order_number += 1

        ts = midnight + timedelta(seconds=rnd.uniform(0, 86_000))
        login = 0 if customer is not None and rnd.random() < 0.5 else len(steps) - 2
        previous_url = rnd.choice(referrers)
        for position, (event_type, product) in enumerate(steps):
            url = _url(event_type, product, pages, rnd)
            stamp = ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            record = {
                "event_id": fake.uuid4(),
                "event_type": event_type,
                "event_ts": stamp,
                "anonymous_id": anonymous_id,
                "customer_id": f"C{customer:07d}" if customer is not None and position >= login else None,
                "product_id": product,
                "order_id": f"O{order_number:09d}" if event_type == "purchase" else None,
                "page_url": url,
                "referrer": previous_url,
                "device": DEVICES[device],
                "country": country,
            }
            lines.append((stamp, json.dumps(record, separators=(",", ":"))))
            previous_url = url
            ts += timedelta(milliseconds=min(max(rnd.lognormvariate(np.log(25_000), 0.9), 800), 1_200_000))
    lines.sort(key=lambda pair: pair[0])
    return "".join(line + "\n" for _, line in lines).encode("utf-8")


def _funnel(kind: str, products: int, rnd: random.Random) -> list[tuple[str, str | None]]:
    """Return one visit's steps as (event type, product id or None): page views, product views, cart, checkout,
    purchase."""
    steps: list[tuple[str, str | None]] = [("page_view", None)]
    steps += [("page_view", None) for _ in range(_poisson(rnd, 1.2))]
    viewed = [f"P{rnd.randint(1, products):05d}" for _ in range(1 + int(rnd.expovariate(1 / 2.5)))]
    if kind == "bounce":
        viewed = []
    carted: list[str] = []
    if kind in ("cart", "checkout", "purchase"):
        wanted = rnd.choices([1, 2, 3, 4], weights=ORDER_LINE_WEIGHTS.tolist())[0]
        carted = list(dict.fromkeys(viewed))[:wanted] or viewed[:1]
    for product in viewed:
        steps.append(("product_view", product))
        if product in carted:
            steps.append(("add_to_cart", product))
    if carted and rnd.random() < REMOVE_SHARE and len(carted) > 1:
        steps.append(("remove_from_cart", carted.pop()))
    if kind in ("checkout", "purchase"):
        steps.append(("checkout", None))
    if kind == "purchase":
        steps.append(("purchase", None))
    return steps


def _url(event_type: str, product: str | None, pages: list[str], rnd: random.Random) -> str:
    """Return the page an event happens on: the product's page, the checkout's, the cart's or a random one."""
    if product is not None:
        return f"{SHOP}/p/{product}"
    if event_type == "checkout":
        return f"{SHOP}/checkout"
    if event_type == "purchase":
        return f"{SHOP}/checkout/confirmation"
    if event_type == "remove_from_cart":
        return f"{SHOP}/cart"
    return rnd.choice(pages)


def _poisson(rnd: random.Random, mean: float) -> int:
    """Return a Poisson draw (Knuth's method; fine for small means)."""
    limit, k, p = np.exp(-mean), 0, rnd.random()
    while p > limit:
        k += 1
        p *= rnd.random()
    return k


def vectorised_events(events: int, seed: int = 42, day: date = date(2026, 1, 1)) -> tuple[bytes, int]:
    """Return (JSON lines, row count) of one day of about `events` events from the vectorised generator.

    The shop (customers, products, pools) is built first and is not part of what this measures.
    """
    world, audience, shelf = _shop(seed, day)
    return _vectorised(world, audience, shelf, events, seed, day)


def _shop(seed: int, day: date):
    from generator.world import GeneratorOptions, new_world

    world = new_world(GeneratorOptions(seed=seed, start_date=day))
    customers, products = world.customers, world.products
    audience = clickstream.Audience(
        rows=np.arange(len(customers)),
        numbers=customers["num"].to_numpy(),
        weights=customers["activity"].to_numpy(),
        country=customers["country"].to_numpy(),
    )
    active = np.flatnonzero(products["active"].to_numpy())
    shelf = clickstream.Shelf(rows=active, weights=products["popularity"].to_numpy()[active])
    return world, audience, shelf


def _vectorised(world, audience, shelf, events: int, seed: int, day: date) -> tuple[bytes, int]:
    import pyarrow as pa

    from generator.world import day_rng, day_start_ms

    traffic = clickstream.simulate_traffic(
        seed, day_start_ms(day), day.weekday(), events, 1, audience, shelf, day_rng(seed, day, "traffic")
    )
    product_ids = pa.array(world.products["product_id"].to_numpy(), type=pa.string())
    customer_ids = pa.array(world.customers["customer_id"].to_numpy(), type=pa.string())
    lines = clickstream.encode_events(traffic, product_ids, customer_ids, 1, day_rng(seed, day, "events"))
    return encode.to_bytes(lines), len(lines)


def compare(events: int = 100_000, seed: int = 42) -> Comparison:
    """Return the rows per second of both paths, each generating about `events` clickstream events."""
    day = date(2026, 1, 1)
    world, audience, shelf = _shop(seed, day)
    # Events per day are scaled by the weekday; ask for as many as the baseline will write.
    target = int(events / clickstream.WEEKDAY_FACTOR[day.weekday()])
    _vectorised(world, audience, shelf, 1_000, seed, day)  # warm-up: first calls pay for lazy setup
    baseline_events(100, seed, day)
    started = time.perf_counter()
    _, rows = _vectorised(world, audience, shelf, target, seed, day)
    vectorised_seconds = time.perf_counter() - started
    started = time.perf_counter()
    baseline = baseline_events(rows, seed, day)
    baseline_seconds = time.perf_counter() - started
    return Comparison(
        events=events,
        vectorised_rows=rows,
        vectorised_seconds=vectorised_seconds,
        baseline_rows=baseline.count(b"\n"),
        baseline_seconds=baseline_seconds,
    )

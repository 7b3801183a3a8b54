"""The web tracker: visits of browsers through the shop's funnel, and the orders the purchases among them create.

Everything is vectorised over the day's visits and events: counts per visit decide how many events of each type a
visit has, random sort keys inside fixed phases put them in a plausible order (landing page first, an add to
cart after the view of that product, checkout and purchase last), and a cumulative sum of gaps gives timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from generator import baskets, encode
from generator.catalogue import CATEGORY_TREE
from generator.pools import COUNTRIES, COUNTRY_WEIGHTS
from generator.schema import DEVICES, EVENT_TYPES, ID_PREFIXES, ID_WIDTHS

# Event types, as indices into EVENT_TYPES, found by their names in the contract: a renamed one fails here.
PAGE_VIEW, PRODUCT_VIEW, ADD_TO_CART, REMOVE_FROM_CART, CHECKOUT, PURCHASE = (
    EVENT_TYPES.index(t)
    for t in ("page_view", "product_view", "add_to_cart", "remove_from_cart", "checkout", "purchase")
)
BOUNCE, BROWSE, CART, ABANDONED_CHECKOUT, BUYER = range(5)
VISIT_KIND_WEIGHTS = np.array([0.38, 0.36, 0.17, 0.06])  # bounce, browse, cart, checkout (before purchases)
PURCHASE_SHARE = (0.022, 0.038)  # of visits, drawn per day
CUSTOMER_SHARE = 0.3  # of visits that are not purchases, by a known customer's browser
RETURNING_ANONYMOUS = 0.3  # of anonymous visits, by a browser seen before
DEVICE_WEIGHTS = np.array([0.38, 0.54, 0.08])
ORDER_LINE_WEIGHTS = np.array([0.55, 0.27, 0.12, 0.06])  # 1–4 lines
REMOVE_SHARE = 0.2  # of visits with a cart, removing one item
SESSION_GAP_MS = 30 * 60_000
# Monday..Sunday: shops sell most on Sunday evenings and least on Fridays.
WEEKDAY_FACTOR = np.array([1.0, 0.97, 0.96, 0.97, 0.93, 0.98, 1.19])
_WEEKDAY_HOURS = np.array([0.6, 0.35, 0.25, 0.2, 0.2, 0.35, 0.8, 1.5, 2.2, 2.7, 2.9, 3.1,
                           3.5, 3.3, 3.0, 2.9, 3.0, 3.4, 4.0, 4.8, 5.4, 5.0, 3.6, 1.7])  # fmt: skip
_WEEKEND_HOURS = np.array([0.9, 0.55, 0.35, 0.25, 0.2, 0.25, 0.45, 0.8, 1.4, 2.3, 3.2, 3.7,
                           3.9, 3.8, 3.6, 3.5, 3.6, 3.9, 4.3, 4.9, 5.5, 5.3, 4.0, 2.2])  # fmt: skip

SHOP = "https://shop.example.com"
VISITOR_COUNTRIES = [*COUNTRIES, "BE", "CH", "PL", "GB"]
_ANONYMOUS_COUNTRY_WEIGHTS = np.concatenate([COUNTRY_WEIGHTS * 0.9, [0.04, 0.03, 0.02, 0.01]])
REFERRERS = pa.array(
    [
        None,
        "https://www.google.com/",
        "https://www.bing.com/",
        "https://duckduckgo.com/",
        "https://www.facebook.com/",
        "https://www.instagram.com/",
        "https://www.pinterest.com/",
        "https://www.idealo.de/",
        "https://newsletter.shop.example.com/",
    ],
    type=pa.string(),
)
_REFERRER_WEIGHTS = np.array([0.32, 0.36, 0.03, 0.02, 0.06, 0.08, 0.02, 0.05, 0.06])


def _slug(text: str) -> str:
    return text.lower().replace(" & ", "-").replace(" ", "-")


def _pages() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return the shop's non-product pages and their weights as a landing page and as a later page."""
    pages, landing, later = [f"{SHOP}/"], [0.35], [0.1]
    subs = [(c, s) for c, tree in CATEGORY_TREE.items() for s in tree]
    for category in CATEGORY_TREE:
        pages.append(f"{SHOP}/c/{_slug(category)}")
        landing.append(0.1 / len(CATEGORY_TREE))
        later.append(0.15 / len(CATEGORY_TREE))
    for category, sub in subs:
        pages.append(f"{SHOP}/c/{_slug(category)}/{_slug(sub)}")
        landing.append(0.25 / len(subs))
        later.append(0.3 / len(subs))
    terms = [
        noun.lower().replace(" ", "+")
        for tree in CATEGORY_TREE.values()
        for _, nouns in tree.values()
        for noun in nouns[:2]
    ]
    for term in terms:
        pages.append(f"{SHOP}/search?q={term}")
        landing.append(0.15 / len(terms))
        later.append(0.2 / len(terms))
    extra = {
        "/sale": (0.1, 0.05),
        "/new": (0.05, 0.04),
        "/account": (0.0, 0.05),
        "/wishlist": (0.0, 0.03),
        "/help/shipping": (0.0, 0.02),
        "/help/returns": (0.0, 0.02),
        "/cart": (0.0, 0.04),
    }
    for path, (w_landing, w_later) in extra.items():
        pages.append(f"{SHOP}{path}")
        landing.append(w_landing)
        later.append(w_later)
    pages += [f"{SHOP}/checkout", f"{SHOP}/checkout/confirmation"]
    landing += [0.0, 0.0]
    later += [0.0, 0.0]
    landing_p, later_p = np.array(landing), np.array(later)
    return pages, landing_p / landing_p.sum(), later_p / later_p.sum()


_PAGE_LIST, _LANDING_WEIGHTS, _LATER_WEIGHTS = _pages()
PAGES = pa.array(_PAGE_LIST)
_EVENT_TYPE_TOKENS = encode.token_pool(list(EVENT_TYPES))
_DEVICE_TOKENS = encode.token_pool(list(DEVICES))
_COUNTRY_TOKENS = encode.token_pool(VISITOR_COUNTRIES)
_CART_PAGE = _PAGE_LIST.index(f"{SHOP}/cart")
_CHECKOUT_PAGE = len(_PAGE_LIST) - 2
_CONFIRMATION_PAGE = len(_PAGE_LIST) - 1


def expected_events_per_visit(purchase_share: float) -> float:
    """Return the mean number of events in a visit, for sizing the day's visits to its event target."""
    pages = 1 + 1.2
    kinds = VISIT_KIND_WEIGHTS / VISIT_KIND_WEIGHTS.sum() * (1 - purchase_share)
    lines = float(np.dot(ORDER_LINE_WEIGHTS, [1, 2, 3, 4]))
    per_kind = [
        1 / 0.75,
        pages + 1 + 2.5,
        pages + 2 * 1.5 + 2.0 + REMOVE_SHARE,
        pages + 2 * 1.5 + 2.0 + REMOVE_SHARE + 1,
        pages + 2 * (lines + REMOVE_SHARE) + 2.0 + REMOVE_SHARE + 2,
    ]
    return float(np.dot([*kinds, purchase_share], per_kind))


@dataclass(frozen=True)
class Audience:
    """Who can visit today: customers who existed at the start of the day."""

    rows: np.ndarray  # customer row positions
    numbers: np.ndarray  # customer numbers, for their browsers' cookie ids
    weights: np.ndarray  # how active each is
    country: np.ndarray  # their country code


_NO_PAIRS = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))


@dataclass(frozen=True)
class Shelf:
    """What can be viewed and bought today: products active all day that existed at its start."""

    rows: np.ndarray  # product row positions
    weights: np.ndarray  # popularity
    # Planted pairs with anchor and companion on the shelf: (anchor, companion) shelf positions, probability.
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray] = field(default_factory=lambda: _NO_PAIRS)


@dataclass(frozen=True)
class Traffic:
    """One day's events in time order, and the orders their purchases created in order_ts order."""

    ts: np.ndarray
    event_type: np.ndarray
    visit: np.ndarray
    customer_row: np.ndarray  # -1 until the visitor logs in
    product_row: np.ndarray  # -1 if not about a product
    order: np.ndarray  # index into the orders below for a purchase, else -1
    page: np.ndarray  # index into the URL pool: PAGES, then product pages by product row
    referrer: np.ndarray  # index into the URL pool (the previous page), or -1 - index into REFERRERS
    cookie: np.ndarray  # per visit: 16 bytes of the browser's cookie id
    device: np.ndarray  # per visit
    country: np.ndarray  # per visit: index into VISITOR_COUNTRIES
    order_ts: np.ndarray
    order_customer_row: np.ndarray
    order_device: np.ndarray
    line_order: np.ndarray  # per order line: index of its order (lines grouped by order, in line order)
    line_product_row: np.ndarray


def _repeat_positions(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return, for groups of the given sizes laid end to end, each element's group and position in it."""
    group = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return group, np.arange(len(group)) - starts[group]


def _distinct_per_group(
    group: np.ndarray, items: np.ndarray, draw, size: int, rng: np.random.Generator, limit: int = 500
) -> np.ndarray:
    """Return `items` with repeats inside a group redrawn until each group's items are distinct."""
    items = items.copy()
    for attempt in range(limit):
        order = np.lexsort((items, group))
        same = (group[order][1:] == group[order][:-1]) & (items[order][1:] == items[order][:-1])
        repeats = order[1:][same]
        if len(repeats) == 0:
            return items
        # Popular products repeat often; after a few rounds draw uniformly so a small shelf still fills a cart.
        items[repeats] = draw(len(repeats)) if attempt < 20 else rng.integers(0, size, len(repeats))
    raise RuntimeError("could not draw distinct products for a cart; the shelf is too small")


def _visitors(
    events_per_day: int, weekday: int, audience: Audience, shelf: Shelf, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return each visit's kind, customer (-1 if anonymous), device and browser key (-1 for a new browser)."""
    purchase_share = rng.uniform(*PURCHASE_SHARE)
    have_products = len(shelf.rows) > 0
    if len(audience.rows) == 0 or not have_products:
        purchase_share = 0.0
    target = events_per_day * WEEKDAY_FACTOR[weekday] * rng.lognormal(0.0, 0.05)
    visits = int(rng.poisson(target / expected_events_per_visit(purchase_share)))
    kind_p = np.append(VISIT_KIND_WEIGHTS / VISIT_KIND_WEIGHTS.sum() * (1 - purchase_share), purchase_share)
    kind = rng.choice(5, visits, p=kind_p)
    if not have_products:
        kind[:] = BOUNCE

    # Who: buyers are known customers (the shop has no guest checkout); other visitors sometimes are.
    is_customer = (kind == BUYER) | ((rng.random(visits) < CUSTOMER_SHARE) & (len(audience.rows) > 0))
    customer = np.full(visits, -1, dtype=np.int64)
    if len(audience.rows):
        p = audience.weights / audience.weights.sum()
        customer[is_customer] = rng.choice(len(audience.rows), int(is_customer.sum()), p=p)
    device = rng.choice(3, visits, p=DEVICE_WEIGHTS)
    returning = ~is_customer & (rng.random(visits) < RETURNING_ANONYMOUS)
    # A browser's cookie is a key: customer and device, a returning anonymous browser, or a new one.
    cookie = np.where(
        is_customer,
        audience.numbers[np.maximum(customer, 0)] * 4 + device if len(audience.rows) else 0,
        np.where(returning, (1 << 40) + rng.integers(0, max(visits, 1) * 3, visits), -1),
    ).astype(np.int64)
    return kind, customer, device, cookie


def _event_counts(
    kind: np.ndarray, shelf: Shelf, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return how many extra page views, adds to cart, removals and product views each visit has."""
    visits = len(kind)
    extra_pages = np.where(kind == BOUNCE, rng.geometric(0.75, visits) - 1, rng.poisson(1.2, visits))
    lines = rng.choice(4, visits, p=ORDER_LINE_WEIGHTS) + 1
    removes = ((kind >= CART) & (rng.random(visits) < REMOVE_SHARE)).astype(np.int64)
    adds = np.where(kind == BUYER, lines + removes, np.minimum(1 + rng.poisson(0.5, visits), 6))
    adds = np.where(kind >= CART, np.minimum(adds, len(shelf.rows)), 0)
    removes = np.minimum(removes, np.maximum(adds - (kind == BUYER), 0))
    views = np.where(kind == BROWSE, 1 + rng.poisson(2.5, visits), 0)
    views = np.where(kind >= CART, adds + rng.poisson(2.0, visits), views)
    return extra_pages, adds, removes, views


@dataclass(frozen=True)
class _Pages:
    """Page views: the landing page, then more pages at random moments."""

    visit: np.ndarray
    key: np.ndarray  # order inside the visit's phase
    phase: np.ndarray  # 0 for the landing page, 1 after it
    page: np.ndarray


def _page_views(extra_pages: np.ndarray, rng: np.random.Generator) -> _Pages:
    """Return each visit's page views: the landing page, then `extra_pages` more."""
    visit, pos = _repeat_positions(1 + extra_pages)
    return _Pages(
        visit=visit,
        key=np.where(pos == 0, 0.0, rng.random(len(visit))),
        phase=np.where(pos == 0, 0, 1),
        page=np.where(
            pos == 0,
            rng.choice(len(_PAGE_LIST), len(visit), p=_LANDING_WEIGHTS),
            rng.choice(len(_PAGE_LIST), len(visit), p=_LATER_WEIGHTS),
        ),
    )


@dataclass(frozen=True)
class _Cart:
    """Product views, adds to cart (right after the view of the same product) and removals from the cart."""

    v_visit: np.ndarray
    v_product: np.ndarray
    v_key: np.ndarray
    a_visit: np.ndarray
    a_product: np.ndarray
    a_key: np.ndarray
    r_visit: np.ndarray
    r_add: np.ndarray  # index of the add a removal takes back
    r_key: np.ndarray
    removed: np.ndarray  # per add: taken out again


def _cart_events(
    views: np.ndarray, adds: np.ndarray, removes: np.ndarray, shelf: Shelf, rng: np.random.Generator
) -> _Cart:
    """Return the product views, adds and removals; the first `adds` views of a visit go into the cart."""
    have_products = len(shelf.rows) > 0
    popularity = shelf.weights / shelf.weights.sum() if have_products else None

    def draw(k: int) -> np.ndarray:
        """Return `k` shelf positions drawn by popularity."""
        return rng.choice(len(shelf.rows), k, p=popularity)

    v_visit, v_pos = _repeat_positions(views)
    v_product = draw(len(v_visit)) if have_products else np.zeros(0, dtype=np.int64)
    v_key = rng.random(len(v_visit))
    carted = v_pos < adds[v_visit]
    if carted.any():
        v_product[carted] = _distinct_per_group(v_visit[carted], v_product[carted], draw, len(shelf.rows), rng)
    a_visit, a_product = v_visit[carted], v_product[carted]
    a_key = v_key[carted] + 1e-9  # right after the view of the same product

    # Removals: one item taken out again, some time after it was added.
    a_group_start = np.cumsum(adds) - adds
    r_visit = np.flatnonzero(removes > 0)
    r_add = a_group_start[r_visit] + (rng.random(len(r_visit)) * adds[r_visit]).astype(np.int64)
    r_key = a_key[r_add] + (1.0 - a_key[r_add]) * rng.uniform(0.05, 1.0, len(r_visit))
    removed = np.zeros(len(a_visit), dtype=bool)
    removed[r_add] = True
    return _Cart(v_visit, v_product, v_key, a_visit, a_product, a_key, r_visit, r_add, r_key, removed)


def _companions(cart: _Cart, kind: np.ndarray, shelf: Shelf, rng: np.random.Generator | None) -> _Cart:
    """Return the cart with the planted companions: a buyer whose cart keeps a pair's anchor views and adds its
    companion (with the pair's probability) some time after adding the anchor, before checking out."""
    if rng is None or len(shelf.pairs[0]) == 0:
        return cart
    eligible = (kind[cart.a_visit] == BUYER) & ~cart.removed
    at, extra = baskets.companions(cart.a_visit, cart.a_product, eligible, shelf.pairs, len(shelf.rows), rng)
    visit = cart.a_visit[at]
    view_key = cart.a_key[at] + (1.0 - cart.a_key[at]) * rng.uniform(0.05, 0.5, len(at))
    return replace(
        cart,
        v_visit=np.concatenate([cart.v_visit, visit]),
        v_product=np.concatenate([cart.v_product, extra]),
        v_key=np.concatenate([cart.v_key, view_key]),
        a_visit=np.concatenate([cart.a_visit, visit]),
        a_product=np.concatenate([cart.a_product, extra]),
        a_key=np.concatenate([cart.a_key, view_key + 1e-9]),
        removed=np.concatenate([cart.removed, np.zeros(len(at), dtype=bool)]),
    )


def _events_by_visit(
    kind: np.ndarray, pages: _Pages, cart: _Cart
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return every event's visit, type, shelf position (-1) and page (-1 for a product page), grouped by visit
    and in the visit's order: landing page, browsing and cart, checkout, purchase."""
    c_visit = np.flatnonzero(kind >= ABANDONED_CHECKOUT)
    b_visit = np.flatnonzero(kind == BUYER)
    v_visit, a_visit, r_visit = cart.v_visit, cart.a_visit, cart.r_visit
    ev_visit = np.concatenate([pages.visit, v_visit, a_visit, r_visit, c_visit, b_visit])
    ev_type = np.concatenate(
        [
            np.full(len(pages.visit), PAGE_VIEW),
            np.full(len(v_visit), PRODUCT_VIEW),
            np.full(len(a_visit), ADD_TO_CART),
            np.full(len(r_visit), REMOVE_FROM_CART),
            np.full(len(c_visit), CHECKOUT),
            np.full(len(b_visit), PURCHASE),
        ]
    ).astype(np.int8)
    ev_phase = np.concatenate(
        [
            pages.phase,
            np.ones(len(v_visit) + len(a_visit) + len(r_visit)),
            np.full(len(c_visit), 2),
            np.full(len(b_visit), 3),
        ]
    )
    ev_key = np.concatenate([pages.key, cart.v_key, cart.a_key, cart.r_key, np.zeros(len(c_visit) + len(b_visit))])
    ev_product = np.concatenate(
        [
            np.full(len(pages.visit), -1),
            cart.v_product,
            cart.a_product,
            cart.a_product[cart.r_add],
            np.full(len(c_visit) + len(b_visit), -1),
        ]
    ).astype(np.int64)
    ev_page = np.concatenate(
        [
            pages.page,
            np.full(len(v_visit) + len(a_visit), -1),
            np.full(len(r_visit), _CART_PAGE),
            np.full(len(c_visit), _CHECKOUT_PAGE),
            np.full(len(b_visit), _CONFIRMATION_PAGE),
        ]
    )
    order = np.lexsort((ev_key, ev_phase, ev_visit))
    return ev_visit[order], ev_type[order], ev_product[order], ev_page[order]


def _timing(
    ev_type: np.ndarray,
    ev_pos: np.ndarray,
    counts: np.ndarray,
    weekday: int,
    day_start_ms: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return each event's ms since its visit's start, and each visit's start and duration.

    Gaps are seconds to minutes (always under the 30-minute session gap), from a diurnal start time.
    """
    visits = len(counts)
    gap = np.clip(rng.lognormal(np.log(25_000), 0.9, len(ev_type)), 800, 20 * 60_000).astype(np.int64)
    gap[ev_type == PURCHASE] = rng.integers(20_000, 180_000, int((ev_type == PURCHASE).sum()))
    gap[ev_pos == 0] = 0
    since_start = np.cumsum(gap)
    since_start -= np.repeat(since_start[np.cumsum(counts) - counts] if len(ev_type) else since_start, counts)
    duration = np.zeros(visits, dtype=np.int64)
    if len(ev_type):
        duration = since_start[np.cumsum(counts) - 1]
    hours = _WEEKEND_HOURS if weekday >= 5 else _WEEKDAY_HOURS
    hour = rng.choice(24, visits, p=hours / hours.sum())
    start = day_start_ms + hour * 3_600_000 + rng.integers(0, 3_600_000, visits)
    start = np.minimum(start, day_start_ms + encode.MS_PER_DAY - 1 - duration)
    return since_start, start, duration


def _one_visit_at_a_time(cookie: np.ndarray, start: np.ndarray, duration: np.ndarray) -> np.ndarray:
    """Return which visits to keep: a browser drops visits that start within 30 minutes of an earlier one's end."""
    keep = np.ones(len(cookie), dtype=bool)
    known = cookie >= 0
    if known.any():
        idx = np.flatnonzero(known)
        by = idx[np.lexsort((start[idx], cookie[idx]))]
        same = cookie[by][1:] == cookie[by][:-1]
        group = np.concatenate([[0], np.cumsum(~same)])
        span = encode.MS_PER_DAY * 4
        running_end = np.maximum.accumulate(start[by] + duration[by] + group * span) - group * span
        clash = same & (start[by][1:] < running_end[:-1] + SESSION_GAP_MS)
        keep[by[1:][clash]] = False
    return keep


def _logins(kind: np.ndarray, customer: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return the position of each visit's first logged-in event (int64 max if never).

    Some visitors are logged in from the start, others log in later (buyers by the checkout).
    """
    visits = len(kind)
    login = np.where(rng.random(visits) < 0.5, 0, np.iinfo(np.int64).max)
    later = login > 0
    buyer = kind == BUYER
    checkout_pos = np.maximum(counts - 2, 0)
    login = np.where(later & buyer, rng.integers(0, np.iinfo(np.int32).max, visits) % (checkout_pos + 1), login)
    browsing = later & ~buyer & (rng.random(visits) < 0.5) & (counts > 1)
    login = np.where(browsing, 1 + rng.integers(0, np.iinfo(np.int32).max, visits) % np.maximum(counts - 1, 1), login)
    return np.where(customer >= 0, login, np.iinfo(np.int64).max)


def _orders(
    ev_type: np.ndarray,
    ev_visit: np.ndarray,
    ev_ts: np.ndarray,
    line_visit: np.ndarray,
    visits: int,
    day_start_ms: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the orders' visits and times, each event's order (-1), each line's order and the lines' sort order.

    One order per purchase event, numbered in order_ts order.
    """
    purchase_events = np.flatnonzero(ev_type == PURCHASE)
    o_visit = ev_visit[purchase_events]
    o_ts = np.minimum(
        ev_ts[purchase_events] + rng.integers(0, 1500, len(purchase_events)), day_start_ms + encode.MS_PER_DAY - 1
    )
    o_order = np.lexsort((o_visit, o_ts))
    o_visit, o_ts = o_visit[o_order], o_ts[o_order]
    order_of_visit = np.full(visits, -1, dtype=np.int64)
    order_of_visit[o_visit] = np.arange(len(o_visit))
    ev_order = np.where(ev_type == PURCHASE, order_of_visit[ev_visit], -1)
    l_order = order_of_visit[line_visit]
    l_sort = np.argsort(l_order, kind="stable")
    return o_visit, o_ts, ev_order, l_order, l_sort


def _browsers(
    seed: int, cookie: np.ndarray, customer: np.ndarray, audience: Audience, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return per visit the browser's 16-byte cookie id, its country and the landing page's referrer."""
    visits = len(cookie)
    raw = np.empty((visits, 16), dtype=np.uint8)
    fresh = cookie < 0
    raw[fresh] = np.frombuffer(rng.bytes(16 * int(fresh.sum())), dtype=np.uint8).reshape(-1, 16)
    raw[~fresh] = encode.hashed_uuid_bytes(seed, cookie[~fresh].astype(np.uint64))
    country = rng.choice(len(VISITOR_COUNTRIES), visits, p=_ANONYMOUS_COUNTRY_WEIGHTS)
    if len(audience.rows):
        known_country = pd.Index(VISITOR_COUNTRIES).get_indexer(audience.country[np.maximum(customer, 0)])
        country = np.where(customer >= 0, known_country, country)
    landing_referrer = rng.choice(len(REFERRERS), visits, p=_REFERRER_WEIGHTS)
    return raw, country, landing_referrer


def _pages_and_referrers(
    ev_page: np.ndarray, ev_product: np.ndarray, ev_pos: np.ndarray, landing_referrer: np.ndarray, shelf: Shelf
) -> tuple[np.ndarray, np.ndarray]:
    """Return each event's page and referrer (the previous event's page; the landing page's is `landing_referrer`).

    The events must still be grouped by visit, so that the previous event is the same visit's.
    """
    page = np.where(ev_page >= 0, ev_page, len(PAGES) + np.maximum(ev_product_row(ev_product, shelf), 0))
    previous = np.arange(len(ev_page)) - 1
    return page, np.where(ev_pos == 0, -1 - landing_referrer, page[previous])


def _order_lines(
    cart: _Cart, kind: np.ndarray, keep: np.ndarray, renumber: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return each order line's visit (renumbered over the kept visits) and shelf position: a buyer's adds to
    cart that were not taken out again."""
    line_keep = keep[cart.a_visit] & ~cart.removed & (kind[cart.a_visit] == BUYER)
    return renumber[cart.a_visit[line_keep]], cart.a_product[line_keep]


def simulate_traffic(
    seed: int,
    day_start_ms: int,
    weekday: int,
    events_per_day: int,
    first_order_number: int,
    audience: Audience,
    shelf: Shelf,
    rng: np.random.Generator,
    basket_rng: np.random.Generator | None = None,
) -> Traffic:
    """Return one day of clickstream events and the orders they created (with companions drawn by `basket_rng`)."""
    kind, customer, device, cookie = _visitors(events_per_day, weekday, audience, shelf, rng)
    extra_pages, adds, removes, views = _event_counts(kind, shelf, rng)
    pages = _page_views(extra_pages, rng)
    cart = _companions(_cart_events(views, adds, removes, shelf, rng), kind, shelf, basket_rng)
    ev_visit, ev_type, ev_product, ev_page = _events_by_visit(kind, pages, cart)
    counts = np.bincount(ev_visit, minlength=len(kind))
    _, ev_pos = _repeat_positions(counts)
    since_start, start, duration = _timing(ev_type, ev_pos, counts, weekday, day_start_ms, rng)

    keep = _one_visit_at_a_time(cookie, start, duration)
    ev_keep, renumber = keep[ev_visit], np.cumsum(keep) - 1
    line_visit, line_product = _order_lines(cart, kind, keep, renumber)
    kind, customer, device, start, cookie = kind[keep], customer[keep], device[keep], start[keep], cookie[keep]
    visits = int(keep.sum())
    ev_visit, ev_type = renumber[ev_visit[ev_keep]], ev_type[ev_keep]
    ev_product, ev_page, ev_pos = ev_product[ev_keep], ev_page[ev_keep], ev_pos[ev_keep]
    ev_ts = start[ev_visit] + since_start[ev_keep]
    counts = np.bincount(ev_visit, minlength=visits)

    login = _logins(kind, customer, counts, rng)
    ev_customer = np.where(ev_pos >= login[ev_visit], customer[ev_visit], -1)
    order = np.lexsort((ev_pos, ev_visit, ev_ts))  # time order, as the tracker logs them
    o_visit, o_ts, ev_order, l_order, l_sort = _orders(ev_type, ev_visit, ev_ts, line_visit, visits, day_start_ms, rng)
    raw, country, landing_referrer = _browsers(seed, cookie, customer, audience, rng)

    page, referrer = _pages_and_referrers(ev_page, ev_product, ev_pos, landing_referrer[ev_visit], shelf)
    product_rows = ev_product_row(ev_product, shelf)
    customer_rows = (
        np.where(ev_customer >= 0, audience.rows[np.maximum(ev_customer, 0)], -1) if len(audience.rows) else ev_customer
    )
    return Traffic(
        ts=ev_ts[order],
        event_type=ev_type[order],
        visit=ev_visit[order],
        customer_row=customer_rows[order],
        product_row=product_rows[order],
        order=ev_order[order],
        page=page[order],
        referrer=referrer[order],
        cookie=raw,
        device=device,
        country=country,
        order_ts=o_ts,
        order_customer_row=audience.rows[customer[o_visit]] if len(o_visit) else np.zeros(0, dtype=np.int64),
        order_device=device[o_visit],
        line_order=l_order[l_sort],
        line_product_row=np.asarray(shelf.rows[line_product[l_sort]], dtype=np.int64),
    )


def ev_product_row(ev_product: np.ndarray, shelf: Shelf) -> np.ndarray:
    """Return product state rows for shelf positions (-1 stays -1)."""
    if len(shelf.rows) == 0:
        return ev_product
    return np.where(ev_product >= 0, shelf.rows[np.maximum(ev_product, 0)], -1)


def encode_events(
    traffic: Traffic,
    product_ids: pa.StringArray,
    customer_ids: pa.StringArray,
    first_order_number: int,
    rng: np.random.Generator,
) -> pa.StringArray:
    """Return the day's events as JSON lines, in time order.

    Columns with few distinct values (types, pages, referrers, ids of products and customers) are taken from
    pools of ready JSON tokens, so each costs one `take`; UUIDs and timestamps are built as quoted bytes.
    """
    n = len(traffic.ts)
    event_id = encode.uuids(np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(-1, 16), quoted=True)
    cookies = encode.uuid_matrix(traffic.cookie)[traffic.visit]
    anonymous_id = encode.fixed_width(encode._quote(cookies, True))
    product_urls = pc.binary_join_element_wise(f"{SHOP}/p/", product_ids, "")
    urls = encode.token_pool(pa.concat_arrays([PAGES, product_urls, REFERRERS]))
    outside = len(PAGES) + len(product_ids)
    referrer = np.where(traffic.referrer >= 0, traffic.referrer, outside - 1 - traffic.referrer)
    customer = encode.token_pool(customer_ids).take(encode.pool_index(traffic.customer_row, len(customer_ids)))
    product = encode.token_pool(product_ids).take(encode.pool_index(traffic.product_row, len(product_ids)))
    n_orders = int(traffic.order.max()) + 1 if n else 0
    orders = encode.token_pool(
        encode.ids(ID_PREFIXES["order"], first_order_number + np.arange(n_orders), ID_WIDTHS["order"])
    )
    return encode.json_lines(
        [
            ("event_id", event_id),
            ("event_type", _EVENT_TYPE_TOKENS.take(traffic.event_type)),
            ("event_ts", encode.timestamps(traffic.ts, quoted=True)),
            ("anonymous_id", anonymous_id),
            ("customer_id", customer),
            ("product_id", product),
            ("order_id", orders.take(encode.pool_index(traffic.order, n_orders))),
            ("page_url", urls.take(traffic.page)),
            ("referrer", urls.take(referrer)),
            ("device", _DEVICE_TOKENS.take(traffic.device[traffic.visit])),
            ("country", _COUNTRY_TOKENS.take(traffic.country[traffic.visit])),
        ]
    )

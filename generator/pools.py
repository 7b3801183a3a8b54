"""Pools of realistic values, built once per warehouse with a seeded Faker and kept in its generator state.

Faker is slow per call but good at plausible names, so it builds a few hundred values per country once;
numpy then samples indices into these pools for every record. The pools are stored with the state so later runs
neither pay for Faker nor depend on its version.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa

COUNTRIES = ("DE", "FR", "NL", "ES", "IT", "AT")
COUNTRY_WEIGHTS = np.array([0.31, 0.21, 0.15, 0.13, 0.13, 0.07])
LOCALES = {"DE": "de_DE", "FR": "fr_FR", "NL": "nl_NL", "ES": "es_ES", "IT": "it_IT", "AT": "de_AT"}
# Which warehouse ships to a country (nearest of AMS, BER, MAD).
WAREHOUSE_OF_COUNTRY = {"DE": "BER", "AT": "BER", "NL": "AMS", "FR": "AMS", "ES": "MAD", "IT": "MAD"}
EMAIL_DOMAINS = {
    "DE": ("gmx.de", "web.de", "t-online.de", "gmail.com", "outlook.com", "posteo.de"),
    "FR": ("orange.fr", "free.fr", "gmail.com", "laposte.net", "outlook.fr", "sfr.fr"),
    "NL": ("ziggo.nl", "kpnmail.nl", "gmail.com", "hotmail.com", "outlook.com"),
    "ES": ("gmail.com", "hotmail.es", "yahoo.es", "telefonica.net", "outlook.es"),
    "IT": ("libero.it", "gmail.com", "virgilio.it", "alice.it", "hotmail.it"),
    "AT": ("gmx.at", "aon.at", "gmail.com", "chello.at", "outlook.com"),
}
# Country calling code and the number of national digits after it.
PHONE_FORMATS = {
    "DE": ("+49", 10),
    "FR": ("+33", 9),
    "NL": ("+31", 9),
    "ES": ("+34", 9),
    "IT": ("+39", 10),
    "AT": ("+43", 10),
}
# Where the house number goes in a street address.
NUMBER_FIRST = frozenset({"FR"})

_NAMES_PER_COUNTRY = 160
_STREETS_PER_COUNTRY = 160
_CITIES_PER_COUNTRY = 60
_BRANDS_PER_CATEGORY = 10
_POOL_NAMES = ("first_names", "last_names", "streets", "cities", "brands")


def ascii_slug(text: str) -> str:
    """Return `text` folded to lowercase ASCII letters and digits, as an email address would spell it."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return "".join(ch for ch in folded if ch.isalnum()) or "x"


@dataclass(frozen=True)
class Pools:
    """Value pools per country (names, streets, cities with postal codes) and brands per category."""

    first_names: dict[str, list[str]]
    last_names: dict[str, list[str]]
    streets: dict[str, list[str]]
    cities: dict[str, list[list[str]]]  # [city, postal_code]
    brands: dict[str, list[str]]

    def to_json(self) -> bytes:
        """Return the pools as JSON bytes."""
        raw = {name: getattr(self, name) for name in _POOL_NAMES}
        return json.dumps(raw, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Pools:
        """Return pools read back from `to_json` bytes."""
        raw = json.loads(data)
        return cls(**{name: raw[name] for name in _POOL_NAMES})

    @cached_property
    def flat(self) -> FlatPools:
        return FlatPools.of(self)


@dataclass(frozen=True)
class Flat:
    """One pool flattened over countries: values, plus where each country's slice starts and how long it is."""

    values: pa.StringArray
    start: np.ndarray
    size: np.ndarray

    def sample(self, country: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return, per row, a random index into `values` within that row's country slice."""
        return self.start[country] + (rng.random(len(country)) * self.size[country]).astype(np.int64)


@dataclass(frozen=True)
class FlatPools:
    first_names: Flat
    first_slugs: pa.StringArray
    last_names: Flat
    last_slugs: pa.StringArray
    streets: Flat
    cities: Flat
    postal_codes: pa.StringArray
    domains: Flat

    @classmethod
    def of(cls, pools: Pools) -> FlatPools:
        def flat(per_country: dict[str, list[str]]) -> Flat:
            sizes = np.array([len(per_country[c]) for c in COUNTRIES], dtype=np.int64)
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            values = pa.array([v for c in COUNTRIES for v in per_country[c]], type=pa.string())
            return Flat(values, starts, sizes)

        first = flat(pools.first_names)
        last = flat(pools.last_names)
        cities = flat({c: [pair[0] for pair in pools.cities[c]] for c in COUNTRIES})
        postal = pa.array([pair[1] for c in COUNTRIES for pair in pools.cities[c]], type=pa.string())
        return cls(
            first_names=first,
            first_slugs=pa.array([ascii_slug(v) for v in first.values.to_pylist()]),
            last_names=last,
            last_slugs=pa.array([ascii_slug(v) for v in last.values.to_pylist()]),
            streets=flat(pools.streets),
            cities=cities,
            postal_codes=postal,
            domains=flat({c: list(EMAIL_DOMAINS[c]) for c in COUNTRIES}),
        )


def build_pools(seed: int, categories: list[str]) -> Pools:
    """Return value pools drawn with Faker seeded by `seed` (a few hundred values per country)."""
    from faker import Faker  # imported here: only a warehouse's first run needs it, and it is slow to import

    first, last, streets, cities = {}, {}, {}, {}
    fakers = []
    for i, country in enumerate(COUNTRIES):
        # Only the providers the pools use: loading all of Faker's per locale costs more than drawing the pools.
        fake = Faker(LOCALES[country], providers=["faker.providers.person", "faker.providers.address"])
        fake.seed_instance(seed * 101 + i)
        for provider in fake.providers:
            # it_IT builds its city list from a set, whose order changes with PYTHONHASHSEED; sorted, the same
            # seed draws the same cities in every process.
            if isinstance(getattr(provider, "cities", None), list):
                provider.cities = sorted(provider.cities)
        fakers.append(fake)
        first[country] = _distinct(fake.first_name, _NAMES_PER_COUNTRY)
        last[country] = _distinct(fake.last_name, _NAMES_PER_COUNTRY)
        streets[country] = _distinct(fake.street_name, _STREETS_PER_COUNTRY)
        seen: dict[str, str] = {}
        for _ in range(_CITIES_PER_COUNTRY * 4):
            if len(seen) == _CITIES_PER_COUNTRY:
                break
            seen.setdefault(fake.city(), fake.postcode())
        cities[country] = [[city, code] for city, code in seen.items()]

    # Brands sound like family names from across Europe, the way many shop brands do.
    suffixes = ["", "", "", " & Co", " Living", " Pro", " Studio", " Works", " Labs"]
    brands: dict[str, list[str]] = {}
    used: set[str] = set()
    for j, category in enumerate(categories):
        names: list[str] = []
        while len(names) < _BRANDS_PER_CATEGORY:
            fake = fakers[(j + len(names)) % len(fakers)]
            name = fake.last_name().split()[-1].split("-")[0].capitalize() + fake.random_element(suffixes)
            if name not in used:
                used.add(name)
                names.append(name)
        brands[category] = names
    return Pools(first_names=first, last_names=last, streets=streets, cities=cities, brands=brands)


def _distinct(draw, n: int) -> list[str]:
    """Return up to `n` distinct values from calling `draw` (fewer if the provider has fewer)."""
    values: dict[str, None] = {}
    for _ in range(n * 4):
        if len(values) == n:
            break
        values[draw()] = None
    return list(values)

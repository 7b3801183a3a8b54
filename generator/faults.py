"""Dirty data: faulty copies spliced in next to the clean records, late delivery and extra fields.

The clean records of a file are built in bulk; the few faulty ones (a fraction `dirty_rate` of them) are made
one by one from a clean record's line and spliced in as text. Each clean record is the source of at most one
fault, so a test can count every kind exactly.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from generator import encode
from generator.schema import (
    ADDED_FAULTS,
    CSV_ENTITIES,
    EXTRA_FIELD_NAMES,
    FAULTS_BY_ENTITY,
    FIELDS,
    ITEM_FIELDS,
    NEGATIVE_FIELDS,
    REQUIRED,
    UNKNOWN_ID_PREFIXES,
    WRONG_TYPE_FIELDS,
)

OUTBOX_COLUMNS = {"deliver_day": "int64", "entity": "object", "kind": "object", "line": "object"}
_TIME_WORDS = ("yesterday", "tomorrow morning", "n/a", "last week", "soon")
_NUMBER_WORDS = ("three", "twelve", "n/a", "about five", "free")


@dataclass
class EntityReport:
    """What one landing file holds: records written, clean ones among them, and the faults, for the manifest."""

    records_written: int = 0
    clean_records: int = 0
    faults: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ADDED_FAULTS, 0))
    late_records: int = 0  # clean records about an earlier day, delivered in this file
    extra_field_records: int = 0  # clean records with an unknown extra field, in this file
    held_back: int = 0  # clean records about this day that will arrive in a later file

    def as_json(self) -> dict:
        """Return the report as a plain dict for the manifest."""
        return {
            "records_written": self.records_written,
            "clean_records": self.clean_records,
            "faults": dict(self.faults),
            "late_records": self.late_records,
            "extra_field_records": self.extra_field_records,
            "held_back_late": self.held_back,
        }


def _unknown_id(kind: str, rng: np.random.Generator) -> str:
    """Return an id of `kind` (customer, product, order) from the range that is never issued."""
    prefix = UNKNOWN_ID_PREFIXES[kind]
    width = {"customer": 6, "product": 4, "order": 8}[kind]
    return f"{prefix}{int(rng.integers(0, 10**width)):0{width}d}"


def _pick(options, rng: np.random.Generator):
    return options[int(rng.integers(0, len(options)))]


def _field_type(entity: str, name: str) -> str:
    if name.startswith("items."):
        return ITEM_FIELDS[name.split(".", 1)[1]]
    return FIELDS[entity][name]


def _wrong_value(kind: str, rng: np.random.Generator) -> str:
    return _pick(_TIME_WORDS if kind in ("timestamp", "date") else _NUMBER_WORDS, rng)


def _set(record: dict, name: str, value, rng: np.random.Generator, *, delete: bool = False) -> None:
    """Set (or delete) field `name` of a record; `items.x` means field x of one random order line."""
    target = record
    if name.startswith("items."):
        items = record["items"]
        target = items[int(rng.integers(0, len(items)))]
        name = name.split(".", 1)[1]
    if delete:
        del target[name]
    else:
        target[name] = value if not callable(value) else value(target[name])


def faulty_json(entity: str, kind: str, line: str, rng: np.random.Generator) -> str:
    """Return a faulty copy of a clean JSON line (with its newline) carrying one fault of `kind`."""
    body = line.rstrip("\n")
    if kind == "malformed":
        # Cut before the closing brace, so the line is never valid JSON.
        return body[: int(rng.integers(len(body) // 3, len(body)))] + "\n"
    if kind == "duplicate":
        return line
    if kind == "extra_field":
        name = _pick(EXTRA_FIELD_NAMES, rng)
        value = {
            "_debug": "true",
            "trace_id": f'"{int(rng.integers(0, 2**62)):016x}"',
            "client_version": f'"{int(rng.integers(3, 7))}.{int(rng.integers(0, 20))}.{int(rng.integers(0, 10))}"',
            "ingest_host": f'"edge-{int(rng.integers(1, 9))}"',
        }[name]
        return f'{body[:-1]},"{name}":{value}' + "}\n"
    record = json.loads(body)
    if kind == "missing_field":
        required = list(REQUIRED[entity])
        if entity == "orders":
            required = [f for f in required if f != "items"] + [f"items.{f}" for f in ITEM_FIELDS]
        name = _pick(required, rng)
        _set(record, name, None, rng, delete=bool(rng.random() < 0.5))
    elif kind == "wrong_type":
        name = _pick(WRONG_TYPE_FIELDS[entity], rng)
        _set(record, name, _wrong_value(_field_type(entity, name), rng), rng)
    elif kind == "negative_value":
        _set(record, _pick(NEGATIVE_FIELDS[entity], rng), lambda v: -v, rng)
    elif kind == "unknown_reference":
        if entity == "orders":
            if rng.random() < 0.5:
                record["customer_id"] = _unknown_id("customer", rng)
            else:
                _set(record, "items.product_id", _unknown_id("product", rng), rng)
        elif entity == "order_status":
            record["order_id"] = _unknown_id("order", rng)
        elif entity == "inventory":
            record["product_id"] = _unknown_id("product", rng)
        elif entity == "events":
            if record.get("product_id") is not None:
                record["product_id"] = _unknown_id("product", rng)
            else:
                record["customer_id"] = _unknown_id("customer", rng)
        else:
            raise ValueError(f"{entity} has no references")
    else:
        raise ValueError(f"{kind} is not a fault a copy can carry")
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"


def csv_row(entity: str, values: list[str]) -> str:
    """Return one CSV row the way the exports write it: text quoted, other values and empty values bare."""
    types = list(FIELDS[entity].values())
    out = []
    for i, value in enumerate(values):
        quoted = value != "" and (i >= len(types) or types[i] == "string")
        out.append('"' + value.replace('"', '""') + '"' if quoted else value)
    return ",".join(out) + "\n"


def faulty_csv(entity: str, kind: str, line: str, rng: np.random.Generator) -> str:
    """Return a faulty copy of a clean CSV row (with its newline) carrying one fault of `kind`."""
    if kind == "duplicate":
        return line
    values = next(csv.reader([line.rstrip("\n")]))
    columns = list(FIELDS[entity])
    if kind == "malformed":
        values = values[:-1] if rng.random() < 0.5 else [*values, _pick(["", "x", "N/A"], rng)]
    elif kind == "missing_field":
        values[columns.index(_pick(REQUIRED[entity], rng))] = ""
    elif kind == "wrong_type":
        name = _pick(WRONG_TYPE_FIELDS[entity], rng)
        values[columns.index(name)] = _wrong_value(FIELDS[entity][name], rng)
    elif kind == "negative_value":
        i = columns.index(_pick(NEGATIVE_FIELDS[entity], rng))
        values[i] = "-" + values[i]
    else:
        raise ValueError(f"{kind} is not a fault a CSV row can carry")
    return csv_row(entity, values)


def _splice(clean: pa.StringArray, sources: np.ndarray, extras: list[str]) -> bytes:
    """Return the bytes of lines in the order `sources` gives: i < len(clean) is clean line i, else an extra.

    Runs of consecutive clean lines are copied as one slice of the clean buffer, so only the few extra lines
    cost a Python step each.
    """
    n = len(clean)
    if not extras and np.array_equal(sources, np.arange(n)):
        return encode.to_bytes(clean)
    view = encode.line_buffer(clean)
    offsets = encode.line_offsets(clean)
    is_clean = sources < n
    # A run of clean lines breaks wherever the next source is not the next clean line.
    breaks = np.flatnonzero(~is_clean[1:] | ~is_clean[:-1] | (sources[1:] != sources[:-1] + 1)) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(sources)]])
    parts: list[bytes | memoryview] = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        first = int(sources[start])
        if first < n:
            last = int(sources[end - 1])
            parts.append(view[offsets[first] : offsets[last + 1]])
        else:
            parts.extend(extras[i - n].encode("utf-8") for i in sources[start:end].tolist())
    return b"".join(parts)


def empty_outbox() -> pd.DataFrame:
    """Return an outbox with no records waiting."""
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in OUTBOX_COLUMNS.items()})


def _take_arrivals(
    arrivals: pd.DataFrame, n: int, extras: list[str], keys: list[int], report: EntityReport, rng: np.random.Generator
) -> None:
    """Add the outbox records due today to `extras` at random places among the `n` clean records, and count them."""
    for kind, line in zip(arrivals["kind"].tolist(), arrivals["line"].tolist(), strict=True):
        extras.append(line)
        keys.append(2 * int(rng.integers(0, n + 1)))
        if kind == "late":
            report.late_records += 1
        else:
            report.faults["duplicate"] += 1


def _outbox(entity: str, later: list[tuple[int, str, str]]) -> pd.DataFrame:
    """Return the records held for later files, (deliver day, kind, line) each, as an outbox."""
    return pd.DataFrame(
        {
            "deliver_day": np.array([d for d, _, _ in later], dtype=np.int64),
            "entity": pd.Series([entity] * len(later), dtype=object),
            "kind": pd.Series([k for _, k, _ in later], dtype=object),
            "line": pd.Series([line for _, _, line in later], dtype=object),
        }
    )


def assemble(
    entity: str,
    day_ordinal: int,
    clean: pa.StringArray,
    arrivals: pd.DataFrame,
    dirty_rate: float,
    rng: np.random.Generator,
) -> tuple[bytes, EntityReport, pd.DataFrame]:
    """Return (file body, report, records for later files) for one entity and day.

    `clean` holds the day's clean records in order; `arrivals` the outbox records due today (late clean
    records and duplicates of yesterday's). The body has no CSV header.
    """
    n = len(clean)
    kinds = FAULTS_BY_ENTITY[entity]
    count = min(int(rng.binomial(n, dirty_rate)) if n and dirty_rate > 0 else 0, n)
    per_kind = rng.multinomial(count, np.full(len(kinds), 1 / len(kinds)))
    sources = rng.choice(n, count, replace=False) if count else np.zeros(0, dtype=np.int64)
    source_lines = clean.take(pa.array(sources, type=pa.int64())).to_pylist() if count else []
    faulty = faulty_csv if entity in CSV_ENTITIES else faulty_json

    report = EntityReport()
    keep = np.ones(n, dtype=bool)
    extras: list[str] = []
    keys: list[int] = []  # clean record i sits at 2i+1; a record inserted before clean record p at 2p
    later: list[tuple[int, str, str]] = []
    start = 0
    for kind, k in zip(kinds, per_kind, strict=True):
        for source, line in zip(sources[start : start + k], source_lines[start : start + k], strict=True):
            source = int(source)
            if kind == "late":
                keep[source] = False
                later.append((day_ordinal + int(rng.integers(1, 4)), "late", line))
                report.held_back += 1
            elif kind == "extra_field":
                keep[source] = False
                extras.append(faulty(entity, kind, line, rng))
                keys.append(2 * source + 1)
                report.extra_field_records += 1
            elif kind == "duplicate" and entity not in CSV_ENTITIES and rng.random() < 0.5:
                later.append((day_ordinal + 1, "duplicate", line))  # counted on the day it is written
            else:
                extras.append(faulty(entity, kind, line, rng))
                # A duplicate comes after its original, as a resend would; other copies anywhere.
                low = source + 1 if kind == "duplicate" else 0
                keys.append(2 * int(rng.integers(low, n + 1)))
                report.faults[kind] += 1
        start += k

    _take_arrivals(arrivals, n, extras, keys, report, rng)

    kept = np.flatnonzero(keep)
    all_keys = np.concatenate([2 * kept + 1, np.asarray(keys, dtype=np.int64)])
    source_index = np.concatenate([kept, n + np.arange(len(extras))])
    order = np.argsort(all_keys, kind="stable")
    body = _splice(clean, source_index[order], extras)

    report.records_written = len(order)
    report.clean_records = len(kept) + report.extra_field_records + report.late_records
    return body, report, _outbox(entity, later)

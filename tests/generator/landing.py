"""Reading what the generator wrote, the way a test (or a pipeline) sees it."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pyarrow.parquet as pq

from generator.schema import EXTENSIONS
from generator.world import load_last_day, load_options
from lakehouse.warehouse import Warehouse


def days(warehouse: Warehouse) -> list[date]:
    """Return the days written, oldest first (the delivery of the shop's past first, if it has one)."""
    options, last = load_options(warehouse), load_last_day(warehouse)
    assert options is not None and last is not None
    first = options.history_day() or options.start_date
    return [date.fromordinal(d) for d in range(first.toordinal(), last.toordinal() + 1)]


def lines(warehouse: Warehouse, entity: str, day: date) -> list[str]:
    """Return the lines (without newlines) of one landing file; a CSV file's header is dropped."""
    text = warehouse.read_bytes(warehouse.landing_file(entity, day, EXTENSIONS[entity])).decode("utf-8")
    rows = text.splitlines()
    return rows[1:] if EXTENSIONS[entity] == "csv" else rows


def header(warehouse: Warehouse, entity: str, day: date) -> list[str]:
    text = warehouse.read_bytes(warehouse.landing_file(entity, day, "csv")).decode("utf-8")
    return next(csv.reader([text.splitlines()[0]]))


def csv_values(line: str) -> list[str]:
    return next(csv.reader(io.StringIO(line)))


def records(warehouse: Warehouse, entity: str, day: date) -> list[dict]:
    """Return the parsed records of a file that has no dirty data."""
    if EXTENSIONS[entity] == "csv":
        names = header(warehouse, entity, day)
        return [dict(zip(names, csv_values(line), strict=True)) for line in lines(warehouse, entity, day)]
    return [json.loads(line) for line in lines(warehouse, entity, day)]


def all_records(warehouse: Warehouse, entity: str) -> list[dict]:
    return [r for day in days(warehouse) for r in records(warehouse, entity, day)]


def manifest(warehouse: Warehouse, day: date) -> dict:
    return json.loads(warehouse.read_bytes(warehouse.generator_dir("manifests", f"{day:%Y%m%d}.json")))


def truth(warehouse: Warehouse, name: str, day: date) -> list[dict]:
    data = warehouse.read_bytes(warehouse.generator_dir("truth", name, f"{day:%Y%m%d}.parquet"))
    return pq.read_table(io.BytesIO(data)).to_pylist()

"""`generate`: write the next days of the shop into a warehouse's landing zone."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import partial

import pyarrow as pa
import pyarrow.parquet as pq

from generator.day import DayOutput, simulate_day
from generator.history import history_days, simulate_history
from generator.schema import ADDED_FAULTS, ENTITIES, EXTENSIONS
from generator.world import (
    GeneratorOptions,
    World,
    load_last_day,
    load_options,
    load_world,
    new_world,
    resolve_options,
    save_pools,
    save_state,
    validate_days,
)
from lakehouse.errors import UserError
from lakehouse.warehouse import Warehouse


@dataclass(frozen=True)
class GenerateResult:
    """What a run wrote: which days, how many records per entity, the faults among them, and how long it took."""

    days: tuple[date, ...]
    rows: dict[str, int]  # records (lines) written per entity, faulty ones included
    clean_rows: dict[str, int]  # clean records per entity among them
    faults: dict[str, int]  # faulty records added, per kind, over all entities
    seconds: float  # wall time of the whole call
    options: GeneratorOptions
    first_run: bool
    files: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        """Return records written per second of wall time."""
        return self.total_rows / self.seconds if self.seconds > 0 else float("inf")


def _relative(warehouse: Warehouse, uri: str) -> str:
    """Return a URI relative to the warehouse root, so manifests do not depend on where the warehouse is."""
    return uri[len(warehouse.root) :].lstrip("/")


def _truth_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def write_day(warehouse: Warehouse, output: DayOutput, options: GeneratorOptions) -> list[str]:
    """Write a day's landing files, truth tables and manifest; return the landing file URIs."""
    day = output.day
    stamp = f"{day:%Y%m%d}"
    uris, entities = [], {}
    for entity in ENTITIES:
        uri = warehouse.landing_file(entity, day, EXTENSIONS[entity])
        warehouse.write_bytes(uri, output.files[entity])
        uris.append(uri)
        entities[entity] = {"file": _relative(warehouse, uri), **output.reports[entity].as_json()}
    truth = {}
    versions = (("customer_versions", output.customer_versions), ("product_versions", output.product_versions))
    for name, table in (*versions, *output.truth.items()):
        uri = warehouse.generator_dir("truth", name, f"{stamp}.parquet")
        warehouse.write_bytes(uri, _truth_bytes(table))
        truth[name] = {"file": _relative(warehouse, uri), "rows": table.num_rows}
    manifest = {"day": day.isoformat(), "options": options.as_json(), "entities": entities, "truth": truth}
    warehouse.write_bytes(
        warehouse.generator_dir("manifests", f"{stamp}.json"), json.dumps(manifest, indent=2).encode("utf-8") + b"\n"
    )
    return uris


def generated_days(warehouse: Warehouse) -> list[date]:
    """Return the days the generator has written into this warehouse, oldest first (empty if none)."""
    options = load_options(warehouse)
    last = load_last_day(warehouse) if options else None
    if options is None or last is None:
        return []
    first = (options.history_day() or options.start_date).toordinal()
    return [date.fromordinal(d) for d in range(first, last.toordinal() + 1)]


@contextlib.contextmanager
def _progress(enabled: bool, days: int) -> Iterator:
    """Yield a callback `(day, step, advance)` that drives a rich progress bar over days (no-op if disabled)."""
    if not enabled:
        yield lambda day, step, advance=False: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("generating", total=days)

        def update(day: date, step: str, advance: bool = False) -> None:
            bar.update(task, description=f"{day.isoformat()} {step}", advance=1 if advance else 0)

        yield update


def _count(output: DayOutput, records: dict, clean: dict, fault_totals: dict) -> None:
    """Add a delivery's records, clean records and faults to the run's totals."""
    for entity, report in output.reports.items():
        records[entity] += report.records_written
        clean[entity] += report.clean_records
        for kind, count in report.faults.items():
            fault_totals[kind] += count


def _stored_options(warehouse: Warehouse) -> GeneratorOptions | None:
    """Return the options of the warehouse's first run, or None on a new one; refuse landing data of unknown origin."""
    stored = load_options(warehouse)
    if stored is None and any(warehouse.landing_days(entity) for entity in ENTITIES):
        raise UserError(
            f"{warehouse.uri('landing')} holds data but no generator state: delete it to start over, "
            "or point LAKEHOUSE_WAREHOUSE at a new warehouse"
        )
    return stored


def _open_world(warehouse: Warehouse, stored: GeneratorOptions | None, options: GeneratorOptions) -> World:
    """Return the world to continue from: a new one (its pools and state saved) on the first run, else the stored."""
    if stored is not None:
        return load_world(warehouse, options)
    world = new_world(options)
    save_pools(warehouse, world.pools)
    save_state(warehouse, world)
    return world


def _past(world: World) -> list[date]:
    """Return the days of the shop's past still to deliver: all of them before the first day, else none."""
    return history_days(world) if world.last_day is None else []


def _deliveries(world: World, days: int, update: Callable) -> Iterator[tuple[World, DayOutput]]:
    """Yield (world after it, output) per delivery: the shop's past on a first run that has one, then `days` days."""
    past = _past(world)
    if past:
        batch = past[-1]  # the past arrives on its last day, the day before the first
        world, output = simulate_history(world, lambda step: update(batch, f"past {step}"))
        yield world, output
    for _ in range(days):
        day = world.next_day()
        world, output = simulate_day(world, day, partial(update, day))
        yield world, output


def generate(
    warehouse: Warehouse,
    days: int,
    *,
    seed: int | None = None,
    start_date: date | str | None = None,
    customers: int | None = None,
    products: int | None = None,
    events_per_day: int | None = None,
    dirty_rate: float | None = None,
    history_months: int | None = None,
    progress: bool = True,
) -> GenerateResult:
    """Write `days` more days of shop data into the landing zone and return what was written.

    The first run on a warehouse stores its options (defaults for those not given); later runs continue from
    the day after the last one written. A first run with history_months delivers that many months of the shop's
    past first, as one batch dated the day before start_date. seed, start_date, customers, products and
    history_months are fixed by the first run; events_per_day and dirty_rate may be changed by a later run and stay
    changed.
    """
    started = time.perf_counter()
    days = validate_days(days)
    stored = _stored_options(warehouse)
    options = resolve_options(
        stored,
        seed=seed,
        start_date=start_date,
        customers=customers,
        products=products,
        events_per_day=events_per_day,
        dirty_rate=dirty_rate,
        history_months=history_months,
    )
    first = _open_world(warehouse, stored, options)
    world = first
    records = dict.fromkeys(ENTITIES, 0)
    clean = dict.fromkeys(ENTITIES, 0)
    fault_totals = dict.fromkeys(ADDED_FAULTS, 0)
    written: list[date] = []
    files: list[str] = []
    with _progress(progress, days + bool(_past(first))) as update:
        for world, output in _deliveries(first, days, update):  # noqa: B007 (the last world is saved below)
            update(output.day, "writing")
            files += write_day(warehouse, output, options)
            _count(output, records, clean, fault_totals)
            written.append(output.day)
            update(output.day, "done", advance=True)
    save_state(warehouse, world)
    return GenerateResult(
        days=tuple(written),
        rows=records,
        clean_rows=clean,
        faults=fault_totals,
        seconds=time.perf_counter() - started,
        options=options,
        first_run=stored is None,
        files=files,
    )

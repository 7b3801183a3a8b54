"""`lakehouse status`: every table with its Delta version and rows, landing files waiting, what the landing zone
holds that the pipeline does not read, and the last runs."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import click
from rich.console import JustifyMethod
from rich.table import Table

from lakehouse import lease
from lakehouse.entities import ENTITIES
from lakehouse.pipeline import audit, catalog, landing
from lakehouse.report import console
from lakehouse.settings import load_settings
from lakehouse.tables import Tables
from lakehouse.warehouse import LANDING_LAYOUT, Unrecognised, Warehouse


def _listed(warehouse: Warehouse, folder: str, look: Callable[[], list[Unrecognised]]) -> list[Unrecognised]:
    """Return what `look` finds in a landing folder, or the folder itself when it cannot be listed."""
    try:
        return look()
    except OSError as exc:
        return [Unrecognised(warehouse.uri(folder), f"cannot be listed: {exc}")]


def _unrecognised(warehouse: Warehouse) -> list[Unrecognised]:
    """Return every path of the landing zone the pipeline does not read, with why."""
    feeds = [e.name for e in ENTITIES]
    found = _listed(warehouse, "landing", partial(warehouse.unknown_landing_feeds, feeds))
    for feed in feeds:
        found += _listed(warehouse, f"landing/{feed}", partial(warehouse.unrecognised_landing, feed))
    return found


def _print_unrecognised(found: list[Unrecognised]) -> None:
    """Print each path the pipeline does not read on a line of its own, whole (paths are for copying), as written."""
    feeds = ", ".join(e.name for e in ENTITIES)
    lines = [
        f"Unrecognised in the landing zone, not read: the pipeline reads only {LANDING_LAYOUT} (feeds: {feeds}); "
        "move or rename these, or remove them:",
        *(f"  {stray.uri}  {stray.why}" for stray in found),
    ]
    for line in lines:
        console.print(line, soft_wrap=True, markup=False, highlight=False)


def _landing_table(tables: Tables) -> Table:
    """Return per feed: the files landed, the last landing day, the files the ledger holds, and the files waiting."""
    warehouse = tables.warehouse
    pending = Table(title="Landing files (ops.landing_files)", title_justify="left")
    for col in ("feed", "files landed", "last landed", "in the ledger", "waiting"):
        pending.add_column(col)
    for entity in ENTITIES:
        try:
            listing = warehouse.landing_listing(entity.name)
            waiting = landing.waiting(tables, entity)
        except OSError:  # named in the table of what is not read, below
            listing, waiting = [], []
        taken = len(landing.recorded(tables, entity.name))
        last = max((f.day for f in listing), default=None)
        pending.add_row(entity.name, str(len(listing)), str(last or "-"), str(taken), str(len(waiting)))
    return pending


def _tables_table(tables: Tables) -> tuple[Table, list[str]]:
    """Return a table of the warehouse's tables (version, rows, files and last change of each), in the order of the
    table catalog, and the catalog's tables not written yet; a table the catalog does not know is shown and said so."""
    shown = Table(title=f"Tables in {tables.warehouse.root}", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("table", "left"),
        ("version", "right"),
        ("rows", "right"),
        ("files", "right"),
        ("last change", "left"),
    )
    for col, justify in columns:
        shown.add_column(col, justify=justify)
    known, present = catalog.specs(), set(tables.names())
    for name in [*(n for n in known if n in present), *sorted(present - known.keys())]:
        facts = tables.describe(name)
        if facts is None:  # dropped since it was listed
            continue
        when = f"{facts.changed_at:%Y-%m-%d %H:%M:%S} {facts.operation}"
        label = name if name in known else f"{name} (not a table of the pipeline's)"
        shown.add_row(label, str(facts.version), f"{facts.rows:,}", str(facts.files), when)
    return shown, [n for n in known if n not in present]


def _print_runs(tables: Tables, runs: int) -> None:
    """Print the latest `runs` rows of the run audit and how many of them failed (or that nothing has run yet)."""
    if not tables.exists(audit.RUN_AUDIT.name):
        console.print("No runs yet: `lakehouse run` processes the landing files.")
        return
    steps = tables.query(audit.RUN_AUDIT.name, f"select * from t order by started_at desc limit {max(runs, 0)}")
    recent = Table(title=f"Latest steps ({audit.RUN_AUDIT.name})", title_justify="left")
    for col in ("run", "step", "batches", "in", "out", "quarantined", "dup", "s", "status"):
        recent.add_column(col)
    for r in steps.to_pylist():
        recent.add_row(
            r["run_id"],
            r["step"],
            f"{r['batch_from'] or ''}→{r['batch_to'] or ''}",
            f"{r['rows_in']:,}",
            f"{r['rows_out']:,}",
            f"{r['rows_quarantined']:,}",
            f"{r['rows_duplicate']:,}",
            f"{r['duration_seconds']:.1f}",
            r["status"] if r["status"] != "failed" else f"failed: {r['error']}",
        )
    console.print(recent)
    failed = sum(1 for status in steps.column("status").to_pylist() if status == "failed")
    if failed:
        console.print(f"[red]{failed} of the latest steps failed[/red]")


@click.command("status")
@click.option("--runs", type=int, default=15, show_default=True, help="How many recent audit rows to show.")
def command(runs: int) -> None:
    """Show the warehouse: tables, versions and row counts, landing files waiting, and the latest runs."""
    warehouse = Warehouse(load_settings())
    warehouse.require_exists()
    tables = Tables(warehouse)

    shown, unwritten = _tables_table(tables)
    console.print(shown)
    if unwritten:
        console.print(f"Not written yet: {', '.join(unwritten)}", markup=False, highlight=False)

    console.print(_landing_table(tables))
    unrecognised = _unrecognised(warehouse)
    if unrecognised:
        _print_unrecognised(unrecognised)

    _print_runs(tables, runs)
    holder = lease.current_holder(warehouse)
    if holder is not None:
        console.print(
            f"Being written by pid {holder.pid} on {holder.host} since {holder.since:%Y-%m-%d %H:%M:%S} UTC "
            f"({holder.command}; last heard from {holder.heartbeat:%H:%M:%S} UTC)",
            markup=False,
        )

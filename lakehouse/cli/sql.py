"""`lakehouse sql`: Trino SQL over the Delta tables: sent to Trino in the stack, answered by DuckDB embedded.

Ctrl-C or `--timeout` stops the query where it runs (DuckDB's interrupt; Trino's cancel) before the command ends.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import click
import pyarrow as pa
from rich.table import Table

from lakehouse.errors import UserError
from lakehouse.report import console
from lakehouse.settings import Settings, load_settings
from lakehouse.warehouse import Warehouse

T = TypeVar("T")
# The exit status of a command stopped by Ctrl-C, as a shell reports one that SIGINT ended (128 + 2).
INTERRUPTED = 130
# How often a cancel is sent again until the query has ended: one sent before the query reached its engine is lost.
RECANCEL_SECONDS = 0.1
# How long a cancelled query may take to end before the command stops waiting for it.
STOP_SECONDS = 10.0


class Cancelled(Exception):
    """A query cancelled by Ctrl-C or, when `timed_out`, by its time limit, after running `seconds`."""

    def __init__(self, seconds: float, timed_out: bool):
        super().__init__(f"the query was cancelled after {seconds:.1f} s")
        self.seconds = seconds
        self.timed_out = timed_out


def cancellable(work: Callable[[], T], cancel: Callable[[], None], timeout: float | None = None) -> T:
    """Return what `work()` returns; on Ctrl-C, or once it has run `timeout` seconds, cancel it and raise Cancelled.

    `work` runs on a worker thread while this one waits, so Ctrl-C is seen at once: a thread inside DuckDB or an HTTP
    call would only see it when the query ends. `cancel` is called from this thread until the worker has ended.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # raised again on the waiting thread
            failure.append(exc)
        finally:
            done.set()

    clock = time.monotonic()
    try:
        threading.Thread(target=run, name="lakehouse-sql-query", daemon=True).start()
        finished = done.wait(timeout)
    except KeyboardInterrupt:
        seconds = time.monotonic() - clock
        _stop(done, cancel)
        raise Cancelled(seconds, timed_out=False) from None
    if not finished:
        _stop(done, cancel)
        raise Cancelled(time.monotonic() - clock, timed_out=True)
    if failure:
        raise failure[0]
    return outcome[0]


def _stop(done: threading.Event, cancel: Callable[[], None]) -> None:
    """Cancel the query until its worker has ended, for at most STOP_SECONDS; a second Ctrl-C stops waiting."""
    deadline = time.monotonic() + STOP_SECONDS
    try:
        while time.monotonic() < deadline:
            cancel()
            if done.wait(RECANCEL_SECONDS):
                return
    except KeyboardInterrupt:
        return


def _answer(settings: Settings, query: str, timeout: float | None) -> tuple[pa.Table, float, str | None]:
    """Return the query's rows, the seconds they took and, embedded, the DuckDB SQL that computed them."""
    if settings.is_stack:
        from lakehouse.trino import connected

        with connected(settings) as client:
            answer = cancellable(lambda: client.query(query), client.cancel, timeout)
        return answer.table, answer.seconds, None
    from lakehouse.sql import SqlEngine

    warehouse = Warehouse(settings)
    warehouse.require_exists()
    engine = SqlEngine(warehouse)
    try:
        result = cancellable(lambda: engine.query(query), engine.interrupt, timeout)
    finally:
        engine.close()
    return result.table, result.seconds, result.duckdb_sql


def _text(value: object) -> str:
    return "" if value is None else str(value)


@click.command("sql")
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--max-rows", type=int, default=200, show_default=True, help="Rows shown as a table (csv/json: all).")
@click.option("--show-sql", is_flag=True, help="Embedded: also print the DuckDB SQL the query was translated to.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Cancel the query when it runs longer than this (default: no limit).",
)
def command(query: str, fmt: str, max_rows: int, show_sql: bool, timeout: float | None) -> None:
    """Run QUERY (Trino SQL, e.g. "select count(*) from silver.orders") and print the rows.

    In the stack (LAKEHOUSE_ENV=stack) the query goes to Trino unchanged; embedded, DuckDB answers it.
    Ctrl-C cancels the query and exits with status 130.
    """
    try:
        try:
            table, seconds, duckdb_sql = _answer(load_settings(), query, timeout)
        except Cancelled as stop:
            if stop.timed_out:
                raise UserError(
                    f"the query ran longer than --timeout {timeout:g} s and was cancelled: "
                    "give a larger --timeout, or none, to let it finish"
                ) from None
            click.echo(f"interrupted: {stop}", err=True)
            sys.exit(INTERRUPTED)
        if show_sql and duckdb_sql is not None:
            console.print(f"[dim]-- duckdb\n{duckdb_sql}[/dim]")
        _print(table, seconds, fmt, max_rows)
    except KeyboardInterrupt:  # before the query started or while its rows are printed: nothing runs to cancel
        click.echo("interrupted", err=True)
        sys.exit(INTERRUPTED)


def _print(table: pa.Table, seconds: float, fmt: str, max_rows: int) -> None:
    rows = table.to_pylist()
    names = table.column_names
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(names)
        writer.writerows([[_text(r[n]) for n in names] for r in rows])
    elif fmt == "json":
        for row in rows:
            sys.stdout.write(json.dumps(row, default=str) + "\n")
    else:
        shown = Table(*names, show_lines=False)
        for row in rows[:max_rows]:
            shown.add_row(*(_text(row[n]) for n in names))
        console.print(shown)
        count = f"{min(len(rows), max_rows):,} of {len(rows):,}" if len(rows) > max_rows else f"{len(rows):,}"
        console.print(f"[dim]{count} rows in {seconds:.2f}s[/dim]")

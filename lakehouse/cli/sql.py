"""`lakehouse sql`: Trino-dialect SQL over the Delta tables, on the embedded engine (DuckDB)."""

from __future__ import annotations

import json
import sys

import click
from rich.table import Table

from lakehouse.report import console
from lakehouse.settings import load_settings
from lakehouse.sql import SqlEngine
from lakehouse.warehouse import Warehouse


def _text(value: object) -> str:
    return "" if value is None else str(value)


@click.command("sql")
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--max-rows", type=int, default=200, show_default=True, help="Rows shown as a table (csv/json: all).")
@click.option("--show-sql", is_flag=True, help="Also print the DuckDB SQL the query was translated to.")
def command(query: str, fmt: str, max_rows: int, show_sql: bool) -> None:
    """Run QUERY (Trino SQL, e.g. "select count(*) from silver.orders") and print the rows."""
    warehouse = Warehouse(load_settings())
    warehouse.require_exists()
    result = SqlEngine(warehouse).query(query)
    if show_sql:
        console.print(f"[dim]-- duckdb\n{result.duckdb_sql}[/dim]")
    rows = result.table.to_pylist()
    names = result.table.column_names
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(names)
        writer.writerows([[_text(r[n]) for n in names] for r in rows])
    elif fmt == "json":
        for row in rows:
            sys.stdout.write(json.dumps(row, default=str) + "\n")
    else:
        table = Table(*names, show_lines=False)
        for row in rows[:max_rows]:
            table.add_row(*(_text(row[n]) for n in names))
        console.print(table)
        shown = f"{min(len(rows), max_rows):,} of {len(rows):,}" if len(rows) > max_rows else f"{len(rows):,}"
        console.print(f"[dim]{shown} rows in {result.seconds:.2f}s[/dim]")

"""`lakehouse sql`: Trino SQL over the Delta tables: sent to Trino in the stack, answered by DuckDB embedded."""

from __future__ import annotations

import json
import sys

import click
from rich.table import Table

from lakehouse.report import console
from lakehouse.settings import load_settings
from lakehouse.warehouse import Warehouse


def _text(value: object) -> str:
    return "" if value is None else str(value)


@click.command("sql")
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--max-rows", type=int, default=200, show_default=True, help="Rows shown as a table (csv/json: all).")
@click.option("--show-sql", is_flag=True, help="Embedded: also print the DuckDB SQL the query was translated to.")
def command(query: str, fmt: str, max_rows: int, show_sql: bool) -> None:
    """Run QUERY (Trino SQL, e.g. "select count(*) from silver.orders") and print the rows.

    In the stack (LAKEHOUSE_ENV=stack) the query goes to Trino unchanged; embedded, DuckDB answers it.
    """
    settings = load_settings()
    if settings.is_stack:
        from lakehouse.trino import connected

        with connected(settings) as client:
            answer = client.query(query)
        table, seconds = answer.table, answer.seconds
    else:
        from lakehouse.sql import SqlEngine

        warehouse = Warehouse(settings)
        warehouse.require_exists()
        result = SqlEngine(warehouse).query(query)
        if show_sql:
            console.print(f"[dim]-- duckdb\n{result.duckdb_sql}[/dim]")
        table, seconds = result.table, result.seconds
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
        table = Table(*names, show_lines=False)
        for row in rows[:max_rows]:
            table.add_row(*(_text(row[n]) for n in names))
        console.print(table)
        shown = f"{min(len(rows), max_rows):,} of {len(rows):,}" if len(rows) > max_rows else f"{len(rows):,}"
        console.print(f"[dim]{shown} rows in {seconds:.2f}s[/dim]")

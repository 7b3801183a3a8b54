"""`lakehouse generate`: the shop's source systems drop one batch of files per day into the landing zone."""

from __future__ import annotations

from datetime import date

import click
from rich.table import Table

from lakehouse.errors import UserError
from lakehouse.report import console
from lakehouse.settings import load_settings
from lakehouse.warehouse import Warehouse


def _day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD") from None


@click.command("generate")
@click.option("--days", type=int, default=1, show_default=True, help="How many days to generate.")
@click.option("--seed", type=int, help="Random seed (first run only; later runs continue with the same one). [42]")
@click.option("--start-date", callback=_day, help="First day, YYYY-MM-DD (first run only). [2026-01-01]")
@click.option("--customers", type=int, help="Customers on day one. [10000]")
@click.option("--products", type=int, help="Products on day one. [500]")
@click.option("--events-per-day", type=int, help="Clickstream events per day, on average. [33000]")
@click.option("--dirty-rate", type=float, help="Share of records with a fault (0 turns faults off). [0.005]")
@click.option(
    "--history-months",
    type=int,
    help="Start the shop with this many months of past customers and orders, delivered as one batch the day "
    "before the first day (first run only). [0]",
)
@click.option("--if-empty", is_flag=True, help="Do nothing when the landing zone already has data.")
def command(
    days: int,
    seed: int | None,
    start_date: date | None,
    customers: int | None,
    products: int | None,
    events_per_day: int | None,
    dirty_rate: float | None,
    history_months: int | None,
    if_empty: bool,
) -> None:
    """Generate DAYS more days of shop data, continuing from the last day generated."""
    from generator import generate, generated_days

    warehouse = Warehouse(load_settings())
    if days < 1:
        raise UserError(f"--days must be at least 1, not {days}")
    if if_empty:
        existing = generated_days(warehouse)
        if existing:
            console.print(
                f"Landing zone already holds {len(existing)} days ({existing[0]} … {existing[-1]}); "
                "not generating more (drop --if-empty to add days)."
            )
            return
    result = generate(
        warehouse,
        days,
        seed=seed,
        start_date=start_date,
        customers=customers,
        products=products,
        events_per_day=events_per_day,
        dirty_rate=dirty_rate,
        history_months=history_months,
        progress=True,
    )
    console.print(f"Generated {result.days[0]} … {result.days[-1]} into {warehouse.uri('landing')}")
    table = Table()
    table.add_column("feed")
    table.add_column("records", justify="right")
    for entity, count in result.rows.items():
        table.add_row(entity, f"{count:,}")
    total = sum(result.rows.values())
    table.add_row("total", f"{total:,}", style="bold")
    console.print(table)
    console.print(f"{total:,} records in {result.seconds:.1f}s ({total / max(result.seconds, 1e-9):,.0f} records/s)")

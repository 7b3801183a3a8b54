"""`lakehouse bench`: measures the generator and the pipeline and prints the figures."""

from __future__ import annotations

import click


@click.command("bench")
@click.option("--days", type=int, default=30, show_default=True, help="Days for the full-run measurement.")
@click.option("--events-per-day", type=int, default=None, help="Scale (default: the generator's default).")
@click.option("--workdir", type=click.Path(file_okay=False), default=None, help="Where to build the bench warehouse.")
@click.option("--keep", is_flag=True, help="Keep the bench warehouse afterwards.")
@click.option("--stack", is_flag=True, help="Measure the stack (starting it if needed) beside the embedded run.")
@click.option(
    "--dbt-history",
    is_flag=True,
    help="With --stack: one more day's dbt step against the full build, with --days and three times as many days "
    "of history (10,000 events a day unless --events-per-day), on both targets.",
)
def command(
    days: int, events_per_day: int | None, workdir: str | None, keep: bool, stack: bool, dbt_history: bool
) -> None:
    """Generator rows/s (and the speed-up over a per-row Faker loop), full run and one more day.

    With --stack: the Spark layers embedded and on the stack for the same shop, the driver's memory on three times
    the data (days three times as busy, and three times the days), and Trino's start and count(*) per table.
    """
    if dbt_history and not stack:
        raise click.UsageError("--dbt-history measures both targets: give --stack with it")
    if dbt_history:
        from lakehouse.devtools.bench_stack import run_dbt_history_bench

        run_dbt_history_bench(days=days, events_per_day=events_per_day)
        return
    if stack:
        from lakehouse.devtools.bench_stack import run_stack_bench

        run_stack_bench(days=days, events_per_day=events_per_day)
        return
    from lakehouse.devtools.bench import run_bench

    run_bench(days=days, events_per_day=events_per_day, workdir=workdir, keep=keep)

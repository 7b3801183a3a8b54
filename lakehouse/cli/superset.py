"""`lakehouse superset ...`: the semantic layer and the Superset that serves it (over DuckDB embedded, Trino in the
stack)."""

from __future__ import annotations

from pathlib import Path

import click

from lakehouse.report import console
from lakehouse.settings import load_settings
from lakehouse.warehouse import Warehouse


def _warehouse() -> Warehouse:
    warehouse = Warehouse(load_settings())
    warehouse.require_exists()
    return warehouse


@click.group("superset")
def command() -> None:
    """Superset dashboards from the semantic layer in superset/ (datasets, metrics, dashboards as code)."""


@command.command("validate")
def validate() -> None:
    """Run every dataset, column and metric of the layer over the gold tables where Superset runs them: on the
    embedded engine, or on Trino as the user `superset` in the stack."""
    from rich.table import Table

    from lakehouse.bi import engine, semantic
    from lakehouse.errors import UserError

    layer = semantic.load_layer()
    warehouse = _warehouse()
    where = f"on Trino as {engine.TRINO_USER!r}" if warehouse.settings.is_stack else "on DuckDB"
    checks = engine.validate(warehouse, layer)
    table = Table(title=f"Semantic layer {where}", title_justify="left")
    for heading in ("dataset", "item", "result", "ms"):
        table.add_column(heading, justify="right" if heading == "ms" else "left")
    for check in checks:
        mark = "[green]ok[/]" if check.ok else "[red]FAILED[/]"
        table.add_row(check.dataset, check.item, f"{mark} {check.detail}", f"{check.milliseconds:.0f}")
    console.print(table)
    failed = [c for c in checks if not c.ok]
    charts = sum(len(d.charts) for d in layer.dashboards)
    if failed:
        listing = "; ".join(f"{c.dataset}: {c.item} {c.detail}" for c in failed)
        raise UserError(f"{len(failed)} of {len(checks)} checks failed: {listing}")
    console.print(
        f"{len(layer.datasets)} datasets, {sum(len(d.metrics) for d in layer.datasets.values())} metrics, "
        f"{len(layer.dashboards)} dashboards, {charts} charts: all {len(checks)} checks passed {where}"
    )


@command.command("bundle")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("assets.zip"))
def bundle_command(output: Path) -> None:
    """Write the layer as a Superset import bundle (ZIP of YAML); the database comes from the configuration."""
    from lakehouse.bi import server

    console.print(f"wrote {server.build_bundle(Warehouse(load_settings()), path=output)}")


@command.command("up")
@click.option("--no-serve", is_flag=True, help="Set up and import, but do not start the web server.")
def up(no_serve: bool) -> None:
    """Set up Superset (metadata, admin, assets) and serve it on 127.0.0.1:8088, over the gold tables on DuckDB, or on
    Trino in the stack. Safe to repeat."""
    from lakehouse.bi import server

    login = server.up(_warehouse(), progress=console.print, start_server=not no_serve)
    if no_serve:
        return
    console.print(
        f"\n[bold]Dashboards[/] at {login.url} — log in as [bold]{login.user}[/] "
        f"with the password from {login.password_source}:"
    )
    for title, url in server.dashboards():
        console.print(f"  {title:<24} {url}")


@command.command("check")
@click.option(
    "--screenshots",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Save a screenshot of each dashboard into this folder (e.g. docs/).",
)
def check(screenshots: Path | None) -> None:
    """Open every dashboard in headless Chromium; fail if a chart errors or never renders."""
    from lakehouse.bi import semantic, server
    from lakehouse.devtools import browser
    from lakehouse.errors import UserError

    if not server.serving(_warehouse()):
        raise UserError("Superset is not running: start it with `lakehouse superset up`")
    layer = semantic.load_layer()
    login = server.login()
    results = browser.check_dashboards(
        login.url,
        login.user,
        login.password,
        layer.dashboards,
        screenshots=screenshots,
    )
    problems = []
    for result in results:
        took = f"{result.seconds:.2f}s" if result.seconds is not None else "did not finish"
        mark = "[green]ok[/]" if not result.problems else "[red]FAILED[/]"
        console.print(
            f"{mark} {result.title:<24} {len(result.charts)} charts rendered in {took}"
            + (f" → {result.screenshot}" if result.screenshot else "")
        )
        problems += [f"{result.title}: {p}" for p in result.problems]
    if problems:
        raise UserError("; ".join(problems))


@command.command("bench")
@click.option("--rounds", type=int, default=5, show_default=True, help="Rounds of every chart query.")
@click.option("--visits", type=int, default=4, show_default=True, help="Visits of every dashboard (first is cold).")
def bench(rounds: int, visits: int) -> None:
    """Chart-query latency (p50/p95) and dashboard render times on this warehouse's gold layer."""
    from rich.table import Table

    from lakehouse.devtools import dashboard_bench

    figures = dashboard_bench.measure(_warehouse(), progress=console.print, rounds=rounds, visits=visits)
    table = Table(title="dashboards", title_justify="left")
    for heading in ("measure", "result", "detail"):
        table.add_column(heading, justify="right" if heading == "result" else "left")
    for row in dashboard_bench.summary(figures):
        table.add_row(*row)
    console.print(table)


@command.command("stop")
def stop() -> None:
    """Stop the Superset web server started by `lakehouse superset up`."""
    from lakehouse.bi import server

    console.print("stopped Superset" if server.stop(_warehouse()) else "Superset was not running")


@command.command("status")
def status() -> None:
    """Say whether Superset is serving, and where."""
    from lakehouse.bi import server

    pid = server.serving(_warehouse())
    if pid:
        console.print(f"Superset is serving on {server.base_url()} (pid {pid})")
    else:
        console.print("Superset is not running: start it with `lakehouse superset up`")

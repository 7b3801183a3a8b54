"""`lakehouse stack`: the S3 server and Trino as local background processes (up, down, status, logs, fetch)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import click
from rich.table import Table

from lakehouse.report import console
from lakehouse.settings import Settings, load_settings

if TYPE_CHECKING:
    from lakehouse.stack.supervisor import State


def _settings() -> Settings:
    """Return the stack's settings whatever LAKEHOUSE_ENV says: these commands are about the stack."""
    os.environ["LAKEHOUSE_ENV"] = "stack"
    return load_settings()


def _show(states: Sequence[State]) -> None:
    table = Table(title="The stack", title_justify="left")
    for column in ("service", "address", "state", "pid", "up for", "log"):
        table.add_column(column)
    now = time.time()
    for s in states:
        colour = {"running": "green", "starting": "yellow"}.get(s.state, "red")
        uptime = str(timedelta(seconds=int(now - s.since))) if s.since else ""
        table.add_row(s.name, s.address, f"[{colour}]{s.state}[/{colour}]", str(s.pid or ""), uptime, s.log)
    console.print(table)


@click.group("stack")
def command() -> None:
    """The stack on this machine: SeaweedFS (S3) and Trino, run as ordinary processes (no Docker needed).

    `lakehouse stack up` fetches what is missing, generates S3 keys into .env once, and starts both; then
    `LAKEHOUSE_ENV=stack lakehouse run` takes the landing zone through the layers on S3 with delta-spark.
    """


@command.command("init")
@click.option(
    "--compose",
    "for_compose",
    is_flag=True,
    help="Also set up docker-compose's Trino: its users' passwords into .env (once), then their password file and "
    "Trino's certificate into .compose/trino/.",
)
def init(for_compose: bool) -> None:
    """Generate the S3 keys into .env (once), without starting anything: what docker-compose needs first."""
    from lakehouse import stack

    _settings()  # loads .env, where keys and passwords made before are found
    made = stack.ensure_keys()
    console.print("generated S3 keys into .env" if made else "S3 keys are set already (environment or .env)")
    if not for_compose:
        return
    generated = stack.ensure_compose_secrets()
    console.print(f"generated {', '.join(generated)} into .env" if generated else "Trino's passwords are set already")
    written = stack.write_compose_trino()
    console.print(f"wrote {', '.join(written)} (Trino's users: {', '.join(stack.TRINO_USERS)})")


@command.command("up")
def up() -> None:
    """Start the S3 server and Trino (fetching them first if needed) and wait until both answer."""
    from lakehouse import stack

    settings = _settings()  # loads .env first: keys generated before are found there
    if stack.ensure_keys():
        console.print("generated S3 keys for the local S3 server into .env")
        settings = _settings()
    states = stack.up(settings, say=lambda line: console.print(line, markup=False))
    _show(states)
    console.print(
        f'Query with `LAKEHOUSE_ENV=stack lakehouse sql "show tables from gold"`, or any Trino client at '
        f"{settings.trino_url} (catalog lakehouse). Stop with `lakehouse stack down`."
    )


@command.command("down")
def down() -> None:
    """Stop Trino and the S3 server (SIGTERM, then SIGKILL after a grace period). Their data stays."""
    from lakehouse import stack

    for name, what in stack.down(_settings()):
        console.print(f"{name}: {what}")


@command.command("status")
def status() -> None:
    """Show each service's address, state, pid, uptime and log file (never a credential)."""
    from lakehouse import stack

    _show(stack.status(_settings()))


@command.command("logs")
@click.argument("service", type=click.Choice(["seaweedfs", "trino"]))
@click.option("-n", "--lines", type=int, default=40, show_default=True, help="How many lines from the end.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C stops).")
def logs(service: str, lines: int, follow: bool) -> None:
    """Print the end of a service's log."""
    from lakehouse import stack

    boss = stack.supervisor(_settings())
    click.echo(boss.tail(service, lines))
    if not follow:
        return
    path = boss.log_path(service)
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        try:
            while True:
                chunk = f.read()
                if chunk:
                    click.echo(chunk.decode(errors="replace"), nl=False)
                else:
                    time.sleep(0.5)
        except KeyboardInterrupt:
            pass


@command.command("jars")
def jars() -> None:
    """Print the Spark jars of the stack as one comma-separated list, for `spark-submit --jars`."""
    from pathlib import Path

    from lakehouse.stack import artifacts

    click.echo(",".join(artifacts.spark_jars(Path(_settings().cache_dir))))


@command.command("fetch")
def fetch() -> None:
    """Fetch Trino and the Spark jars pinned in infra/maven-artifacts.txt into the cache (once; mvn)."""
    from pathlib import Path

    from lakehouse.stack import artifacts

    settings = _settings()
    fetched = artifacts.fetch(Path(settings.cache_dir), say=lambda line: console.print(line, markup=False))
    console.print(f"{len(fetched)} fetched; every artifact is in {settings.cache_dir}")

"""The `lakehouse` command. One module per subcommand."""

from __future__ import annotations

import importlib
from typing import Any

import click

from lakehouse.errors import PipelineError, UserError

SUBCOMMANDS = ("generate", "run", "sql", "status", "dbt", "superset", "maintain", "bench", "stack")


class _Group(click.Group):
    """Loads each subcommand's module only when it is used (so `lakehouse sql` never imports Spark), and shows
    user and pipeline errors as one line (exit 1), never as a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        module = importlib.import_module(f"lakehouse.cli.{cmd_name}")
        return module.command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (UserError, PipelineError) as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lakehouse")
def cli() -> None:
    """An e-commerce analytics lakehouse: shop data through bronze, silver and gold Delta tables.

    Start with `lakehouse generate --days 30`, then `lakehouse run`; look with `lakehouse status` and
    `lakehouse sql "select ..."`. Settings come from the environment (LAKEHOUSE_WAREHOUSE, LAKEHOUSE_ENV, ...).
    """


def main() -> None:
    cli(prog_name="lakehouse")

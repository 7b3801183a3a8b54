"""What a run does once its steps are recorded: make the new data visible to the ones who read it.

Dashboards drop their cached chart results; in the stack, Trino registers every table it does not know yet.
"""

from __future__ import annotations

from lakehouse.errors import PipelineError, UserError
from lakehouse.pipeline.context import RunContext


def refresh_dashboards(ctx: RunContext) -> None:
    """Drop the dashboards' cached chart results: they answer from the new data from now on."""
    ctx.warehouse.clear_chart_cache()


def register_in_sql_engine(ctx: RunContext) -> list[str]:
    """In the stack, register in Trino every table it does not know yet; return those (nothing embedded)."""
    settings = ctx.warehouse.settings
    if not settings.is_stack:
        return []
    from lakehouse import trino

    try:
        return trino.register_tables(settings, ctx.warehouse)
    except UserError as exc:
        raise PipelineError(
            f"the tables are written, but registering them in Trino failed ({exc}); the next run registers them"
        ) from None

"""The dbt layer of a run: build and test the dbt project once the Spark layers have new data for it."""

from __future__ import annotations

import json

from lakehouse import dbt
from lakehouse.pipeline.context import RunContext, StepResult

# The Spark steps dbt reads from, as (table, app id) watermarks; dbt builds once all of them have moved on.
INPUTS = (
    ("silver.customers", "silver.customers"),
    ("silver.products", "silver.products"),
    ("silver.orders", "silver.orders"),
    ("silver.orders", "silver.order_status"),
    ("silver.events", "silver.events"),
    ("silver.inventory_movements", "silver.inventory"),
    ("gold.sessions", "gold.sessions"),
    ("gold.daily_product_metrics", "gold.daily_product_metrics"),
)


def _marker(ctx: RunContext) -> str:
    return ctx.warehouse.uri("_lakehouse", "dbt", "built.json")


def built_batch(ctx: RunContext) -> int:
    """Return the last batch the dbt models were built from (0 before the first build)."""
    uri = _marker(ctx)
    return int(json.loads(ctx.warehouse.read_bytes(uri))["batch"]) if ctx.warehouse.exists(uri) else 0


def build(ctx: RunContext) -> StepResult:
    """Run `dbt build` (models and their tests) when the Spark layers have batches dbt has not seen."""
    result = StepResult(step="dbt.build", table="dbt models")
    done = built_batch(ctx)
    available = min(ctx.tables.watermark(table, app) or 0 for table, app in INPUTS)
    if available <= done:
        result.status = "skipped"
        return result
    result.batch_from, result.batch_to = done + 1 if done else None, available
    outcome = dbt.run(ctx.warehouse, ["build"])
    result.rows_out = outcome.counts.get("success", 0)
    result.notes.append(outcome.summary())
    ctx.warehouse.write_bytes(_marker(ctx), json.dumps({"batch": available, "run_id": ctx.run_id}).encode())
    return result


STEPS = (build,)

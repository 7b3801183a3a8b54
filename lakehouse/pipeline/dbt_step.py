"""The dbt layer of a run: build and test the dbt project once the Spark layers have new data for it."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import duckdb

from lakehouse import dbt
from lakehouse.pipeline import audit, bronze, gold, landing, silver
from lakehouse.pipeline.context import RunContext, Step, StepResult, next_batch
from lakehouse.tables import TableSpec, sql_in

STEP_NAME = "dbt.build"  # the run audit's step; the dbt step keeps its progress in its own record (built_batch)


def _marker(ctx: RunContext) -> str:
    return ctx.warehouse.state_uri("dbt", "built.json")


def _built(ctx: RunContext) -> dict:
    """Return what the last build recorded: its batch, run and gold tables (empty before the first build)."""
    uri = _marker(ctx)
    return json.loads(ctx.warehouse.read_bytes(uri)) if ctx.warehouse.exists(uri) else {}


def built_batch(ctx: RunContext) -> int:
    """Return the last batch the dbt models were built from (0 before the first build)."""
    return int(_built(ctx).get("batch", 0))


def stale_models(ctx: RunContext) -> list[str]:
    """Return the gold models whose Delta table is missing, made anew or older than the last build left it, and
    those the project gained since (a new mart after an upgrade): each is built whole by the next run."""
    built = _built(ctx).get("tables")
    if built is None:  # never built: the first build makes everything
        return []
    project = dbt.gold_models()
    stale = {name for name in project if name not in built}
    for name, (table_id, version) in built.items():
        if name not in project:  # a model the project no longer has: nothing builds it
            continue
        now = ctx.tables.identity(f"gold.{name}")
        if now is None or now[0] != table_id or now[1] < version:
            stale.add(name)
    return sorted(stale)


def _record(ctx: RunContext, batch: int) -> None:
    """Record the batch built and each gold model's table as the build left it (checked by the next run): its id (a
    table made anew has another) and version. Read afresh: on the stack, Trino wrote them, not this process."""
    ctx.tables.refresh()
    tables = {name: found for name in dbt.gold_models() if (found := ctx.tables.identity(f"gold.{name}")) is not None}
    record = {"batch": batch, "run_id": ctx.run_id, "tables": tables}
    ctx.warehouse.write_bytes(_marker(ctx), json.dumps(record).encode())


def _models(ctx: RunContext) -> dict[str, dict]:
    """Return dbt's manifest entry of every model, by name (empty before the first build)."""
    manifest = Path(dbt.environment(ctx.warehouse)["DBT_TARGET_PATH"]) / "manifest.json"
    if not manifest.is_file():
        return {}
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return {n["name"]: n for n in nodes if n["resource_type"] == "model"}


def model_specs() -> dict[str, TableSpec]:
    """Return the gold table of each dbt gold model by model name, described as the model's yml describes it."""
    described = dbt.gold_descriptions()
    return {name: _model_spec(name, described.get(name)) for name in dbt.gold_models()}


def _model_spec(name: str, description: str | None = None) -> TableSpec:
    """Return the gold table of dbt model `name`; a model its yml does not describe is described by its name."""
    return TableSpec(f"gold.{name}", description or f"dbt model {name}")


def _as_trino_types(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """Return the query that reads model `name` in the types Trino gives the same SQL.

    DuckDB sums integers into a 128-bit HUGEINT (a decimal(38,0) once in Arrow) where Trino's sum of integers is a
    bigint: the published table takes Trino's type, so a column reads the same on both deployments.
    """
    columns = con.sql(f'describe gold."{name}"').fetchall()
    select = [f'cast("{c[0]}" as bigint) as "{c[0]}"' if c[1] == "HUGEINT" else f'"{c[0]}"' for c in columns]
    return f'select {", ".join(select)} from gold."{name}"'


def _rebuilt(con: duckdb.DuckDBPyConnection) -> dict[str, list[str] | None]:
    """Return the keys each incremental model's build rebuilt (None: all of them), as its pre-hook recorded them."""
    found = "select 1 from information_schema.tables where table_schema = 'main' and table_name = 'lakehouse_rebuilt'"
    if not con.sql(found).fetchall():
        return {}
    rebuilt: dict[str, list[str] | None] = {}
    for model, key in con.sql("select model, key_value from main.lakehouse_rebuilt").fetchall():
        keys = rebuilt.setdefault(model, [])
        if key is None:
            rebuilt[model] = None
        elif keys is not None:
            keys.append(key)
    return rebuilt


def publish(ctx: RunContext, whole: Collection[str] = ()) -> dict[str, int]:
    """Copy every model dbt built into the gold schema to the Delta table `gold.<model>`; return rows copied per table.

    Only a build whose tests passed gets here, so a bad model is never published. Everything that reads the
    lakehouse (`lakehouse sql`, Superset, Trino in the stack) then reads Delta, never dbt's working database. An
    incremental model's Delta table is rewritten only where the build rebuilt it: the keys its pre-hook recorded;
    the models in `whole` (their tables missing or not as the last build left them) are copied whole.
    """
    models = _models(ctx)
    con = dbt.connect(ctx.warehouse)
    try:
        names = [
            row[0]
            for row in con.sql(
                "select table_name from information_schema.tables "
                "where table_schema = 'gold' and table_type = 'BASE TABLE' order by table_name"
            ).fetchall()
        ]
        rebuilt = _rebuilt(con)
        specs = model_specs()
        published = {}
        for name in names:
            node = models.get(name, {})
            spec = specs.get(name) or _model_spec(name)  # left in dbt's database by a model since removed
            query = _as_trino_types(con, name)
            keys, key = rebuilt.get(name), node.get("config", {}).get("unique_key")
            if keys is not None and isinstance(key, str) and name not in whole and ctx.tables.exists(spec.name):
                chosen = f'select * from ({query}) where cast("{key}" as varchar) in (select unnest(?))'
                data = con.execute(chosen, [keys]).to_arrow_table()
                ctx.tables.overwrite(spec, data, predicate=sql_in(key, sorted(set(keys))))
            else:
                data = con.sql(query).to_arrow_table()
                ctx.tables.overwrite(spec, data, replace_schema=True)
            published[name] = data.num_rows
    finally:
        con.close()
    return published


def published_on_trino(ctx: RunContext) -> dict[str, int]:
    """Return the rows of every gold model dbt built on Trino (there Trino writes them to Delta itself)."""
    from lakehouse import trino

    names = dbt.gold_models()
    if not names:
        return {}
    counts = " union all ".join(f"select '{name}', count(*) from {trino.CATALOG}.gold.{name}" for name in names)
    with trino.connected(ctx.warehouse.settings) as client:
        return {name: int(rows) for name, rows in client.execute(counts)}


def build(ctx: RunContext) -> StepResult:
    """Check source freshness, then `dbt build` (snapshots, models and their tests), when the Spark layers have new
    batches: on DuckDB embedded, whose gold models are then copied to Delta; on Trino in the stack, which writes
    them to Delta itself."""
    result = StepResult(step=STEP_NAME, table="dbt models")
    done = built_batch(ctx)
    available = landing.available(ctx.tables, INPUTS, gold.INPUTS)
    stale = stale_models(ctx)  # what was published is checked, not assumed
    if available <= done and not stale:
        result.status = "skipped"
        return result
    if available > done:
        result.batch_from = next_batch(done) if done else None
    result.batch_to = max(available, done)
    on_trino = ctx.warehouse.settings.is_stack
    if on_trino:  # dbt's sources are the tables Trino knows: register the ones this run made first
        _rebuild_on_trino(ctx, stale)
    # Incremental models rebuild only what batches after `done` touched (dbt_project/macros/incremental.sql).
    project = dbt.parse(ctx.warehouse, since_batch=done)
    freshness = dbt.run(ctx.warehouse, ["source", "freshness"], since_batch=done, manifest=project)
    outcome = dbt.run(ctx.warehouse, ["build"], since_batch=done, manifest=project)
    published = published_on_trino(ctx) if on_trino else publish(ctx, whole=stale)
    result.rows_out = sum(published.values())
    where = "on Trino" if on_trino else "published"
    result.notes.append(f"{freshness.summary()}; {outcome.summary()}; {where} {len(published)} models to gold")
    if stale:
        result.notes.append(f"built whole, as new, missing or not as the last build left them: {', '.join(stale)}")
    _record(ctx, max(available, done))
    return result


def _rebuild_on_trino(ctx: RunContext, stale: list[str]) -> None:
    """Register the run's new tables in Trino, then build the stale gold models anew (Trino forgets a table whose
    files are gone first: its next build creates it at the same place)."""
    from lakehouse import trino

    settings = ctx.warehouse.settings
    if stale:
        trino.forget_tables(settings, [f"gold.{name}" for name in stale if not ctx.tables.exists(f"gold.{name}")])
    trino.register_tables(settings, ctx.warehouse)
    if stale:
        dbt.run(ctx.warehouse, ["run", "--full-refresh", "--select", *stale])


_SPARK_STEPS = (*silver.STEPS, *gold.STEPS)
# The Spark steps dbt reads from, by their batch markers; dbt builds once all of them have moved on.
INPUTS = tuple(step.mark for step in _SPARK_STEPS)
# dbt's sources: what the silver and gold steps write, bronze's quarantine, the landing ledger and the run audit (also
# its freshness checks). It writes the project's gold models; its progress is its own record (built_batch), not a
# batch marker in a table.
STEPS = (
    Step(
        STEP_NAME,
        build,
        reads=(
            bronze.QUARANTINE.name,
            *dict.fromkeys(table for step in _SPARK_STEPS for table in step.writes),
            landing.LEDGER.name,
            audit.RUN_AUDIT.name,
        ),
        writes=tuple(f"gold.{name}" for name in dbt.gold_models()),
        needs=tuple(step.name for step in _SPARK_STEPS),
        reads_audit=True,
    ),
)

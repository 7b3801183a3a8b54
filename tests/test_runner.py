"""The steps as declared, and the runner's order: of the steps ready to start, the one heading the longest chain goes
first."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest
import yaml

from lakehouse import dbt, pipeline
from lakehouse.errors import UserError
from lakehouse.pipeline import catalog, dbt_step, gold, runner
from lakehouse.pipeline.context import RunContext, Step, StepResult, next_batch
from lakehouse.pipeline.runner import LAYERS, chain_lengths, steps_of
from lakehouse.settings import Settings
from lakehouse.tables import Tables, TableSpec
from lakehouse.warehouse import Warehouse


def test_every_step_heads_a_longer_chain_than_the_steps_that_need_it():
    plan = [step for layer in LAYERS for step in steps_of(layer)]
    chains = chain_lengths({step.name: step.needs for step in plan})
    for step in plan:
        for need in step.needs:
            assert chains[need] > chains[step.name], (need, step.name)
    # orders → order status → product metrics → dbt is the longest tail of the silver layer
    assert chains["silver.order_status"] > chains["silver.inventory"]
    assert chains["bronze.events"] > chains["bronze.inventory"]


def test_a_free_worker_takes_the_ready_step_with_the_longest_chain(monkeypatch, spark, tmp_path):
    started: list[str] = []

    def step(name: str, *needs: str) -> Step:
        def run(ctx: RunContext) -> StepResult:
            started.append(name)
            return StepResult(step=name, table=name, status="skipped")

        return Step(name, run, needs=needs)

    # In plan order `side` would go second; `head` leads a chain of three, so `middle` goes before it.
    plan = [step("head"), step("side"), step("middle", "head"), step("tail", "middle")]
    monkeypatch.setattr(runner, "steps_of", lambda layer: plan if layer == "bronze" else [])
    ctx = RunContext(Tables(Warehouse(Settings(warehouse=str(tmp_path))), spark))
    results = runner.run(ctx, layers=("bronze",), parallelism=1)
    assert started == ["head", "middle", "side", "tail"]
    assert [r.step for r in results] == ["head", "side", "middle", "tail"]  # reported in plan order


def test_batches_are_a_sequence_that_continues_above_the_landing_days_of_an_old_warehouse():
    assert [next_batch(b) for b in (1, 41, 20260131, 20261231)] == [2, 42, 20260132, 20261232]


ROOT = Path(__file__).resolve().parents[1]
PLAN = [step for layer in LAYERS for step in steps_of(layer)]
BY_NAME = {step.name: step for step in PLAN}


def test_each_step_is_declared_once_in_its_layer_and_waits_only_for_declared_steps_before_it():
    assert len(BY_NAME) == len(PLAN)
    for index, step in enumerate(PLAN):
        assert step.layer in LAYERS and steps_of(step.layer).count(step) == 1, step.name
        assert set(step.needs) <= {s.name for s in PLAN[:index]}, step.name


def test_a_step_s_name_is_written_once_in_the_product_code():
    """Its declaration and its code share one name (the table it writes, a silver feed's step name, or a constant):
    renaming a step touches one place. The dbt sources' freshness queries are checked below."""
    code = "\n".join(path.read_text() for path in (ROOT / "lakehouse").rglob("*.py"))
    written = {step.name: code.count(f'"{step.name}"') for step in PLAN}
    assert {name: count for name, count in written.items() if count > 1} == {}
    assert written["dbt.build"] == 1  # its constant


def _before(name: str) -> set[str]:
    """Return every step `name` waits for, directly or through the steps it waits for."""
    found: set[str] = set()
    todo = list(BY_NAME[name].needs)
    while todo:
        need = todo.pop()
        if need not in found:
            found.add(need)
            todo.extend(BY_NAME[need].needs)
    return found


def test_a_step_waits_for_every_step_before_it_writing_a_table_it_reads():
    """A table every step of a layer appends to (its quarantine, the landing ledger) is shared, not waited for."""
    for index, step in enumerate(PLAN):
        layer = {s.name for s in PLAN if s.layer == step.layer}
        for table in step.reads:
            writers = {s.name for s in PLAN if table in s.writes}
            if layer <= writers:
                continue
            earlier = writers & {s.name for s in PLAN[:index]}
            assert earlier <= _before(step.name), (step.name, table, earlier - _before(step.name))


def test_a_steps_batch_marker_is_in_a_table_it_writes_and_gold_and_dbt_read_the_markers_of_the_steps_they_need():
    for step in PLAN:  # dbt keeps its progress in a record of its own (dbt_step.built_batch)
        assert step.marker in step.writes if step.layer != "dbt" else step.marker == "", step.name
    for name, marks in gold.INPUTS.items():
        assert [app for _, app in marks] == list(BY_NAME[name].needs), name
    spark_steps = {s.name for s in PLAN if s.layer in ("silver", "gold")}
    assert {app for _, app in dbt_step.INPUTS} == spark_steps == set(BY_NAME["dbt.build"].needs)


def test_every_table_spec_of_the_pipeline_is_in_the_catalog_and_every_table_a_step_names_too():
    specs = catalog.specs()
    for module in pkgutil.iter_modules(pipeline.__path__):
        for value in vars(importlib.import_module(f"lakehouse.pipeline.{module.name}")).values():
            for spec in value if isinstance(value, tuple) else (value,):
                if isinstance(spec, TableSpec):
                    assert specs.get(spec.name) == spec, (module.name, spec.name)
    for step in PLAN:
        assert set(step.reads) | set(step.writes) <= set(specs), step.name
    assert {f"gold.{name}" for name in dbt.gold_models()} <= set(specs)
    assert catalog.spec("gold.fct_orders").description.startswith("One row per order")
    with pytest.raises(UserError, match=r"unknown table gold\.nope: the pipeline's tables are .*gold\.fct_orders"):
        catalog.spec("gold.nope")


def test_dbt_finds_each_source_where_the_warehouse_keeps_that_table(tmp_path):
    """On DuckDB a source is read from its Delta table's folder; the path must be the warehouse's own for it."""
    sources = yaml.safe_load((dbt.PROJECT_DIR / "models" / "staging" / "_sources.yml").read_text())["sources"]
    warehouse = Warehouse(Settings(warehouse=str(tmp_path)))
    for source in sources:
        template = source["meta"]["external_location"]
        rendered = re.sub(r"\{\{ env_var\('LAKEHOUSE_WAREHOUSE', '\.'\) \}\}", warehouse.root, template)
        for table in source["tables"]:
            name = f"{source['schema']}.{table['name']}"
            assert rendered.format(name=table["name"]) == f"delta_scan('{warehouse.table_uri(name)}')", name


def test_dbt_reads_its_sources_from_the_tables_the_steps_write_and_their_freshness_from_the_step_writing_them():
    sources = yaml.safe_load((dbt.PROJECT_DIR / "models" / "staging" / "_sources.yml").read_text())["sources"]
    (build,) = dbt_step.STEPS
    checked = 0
    for source in sources:
        for table in source["tables"]:
            name = f"{source['schema']}.{table['name']}"
            assert name in build.reads, name
            query = (table.get("config") or table).get("loaded_at_query") or ""
            for step in re.findall(r"step = '([a-z_.]+)'", query):
                assert name in BY_NAME[step].writes, (name, step)
                checked += 1
    assert checked >= 8

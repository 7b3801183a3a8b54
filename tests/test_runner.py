"""The runner's order: of the steps ready to start, the one heading the longest chain goes first."""

from __future__ import annotations

from lakehouse.pipeline import runner
from lakehouse.pipeline.context import RunContext, StepResult, next_batch
from lakehouse.pipeline.runner import LAYERS, PlannedStep, chain_lengths, steps_of
from lakehouse.settings import Settings
from lakehouse.tables import Tables
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

    def step(name: str, *needs: str) -> PlannedStep:
        def run(ctx: RunContext) -> StepResult:
            started.append(name)
            return StepResult(step=name, table=name, status="skipped")

        return PlannedStep(name, run, needs)

    # In plan order `side` would go second; `head` leads a chain of three, so `middle` goes before it.
    plan = [step("head"), step("side"), step("middle", "head"), step("tail", "middle")]
    monkeypatch.setattr(runner, "steps_of", lambda layer: plan if layer == "bronze" else [])
    ctx = RunContext(Tables(Warehouse(Settings(warehouse=str(tmp_path))), spark))
    results = runner.run(ctx, layers=("bronze",), parallelism=1)
    assert started == ["head", "middle", "side", "tail"]
    assert [r.step for r in results] == ["head", "side", "middle", "tail"]  # reported in plan order


def test_batches_are_a_sequence_that_continues_above_the_landing_days_of_an_old_warehouse():
    assert [next_batch(b) for b in (1, 41, 20260131, 20261231)] == [2, 42, 20260132, 20261232]

"""The contract (lakehouse/entities.py) is the one list of accepted values and of the order's lifecycle: the dbt
ymls' accepted_values and the order models take them from it (dbt_project/macros/contract.sql), and the status
literals of the dbt SQL and the gold transforms, and the generator's fulfilment plan, agree with it. That the macros
compile to the contract's values is checked where the project is compiled (tests/test_dbt_trino.py)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from generator import orders as generated_orders
from lakehouse import entities as contract

ROOT = Path(__file__).resolve().parents[1]
DBT = ROOT / "dbt_project"
LIFECYCLE = tuple(status.name for status in contract.ORDER_LIFECYCLE)
# Columns with accepted values the marts compute themselves: no feed delivers them.
DERIVED = {
    ("mart_customer_rfm", "segment"),
    ("mart_customer_health", "churn_risk_segment"),
    ("mart_quarantine", "layer"),
}
# The models that pass every column of silver.orders on, the milestone columns among them.
ORDER_MODELS = ("stg_orders", "int_orders_matched_to_customer_versions", "fct_orders")

_SOURCE = re.compile(r"""source\(\s*['"]silver['"]\s*,\s*['"](\w+)['"]\s*\)""")
_REF = re.compile(r"""ref\(\s*['"](\w+)['"]\s*\)""")
_COMPARED = re.compile(r"\bstatus\s*(?:=|<>|!=)\s*'([^']*)'|'([^']*)'\s*(?:=|<>|!=)\s*[\w.]*\bstatus\b")
_IN_LIST = re.compile(r"\bstatus\s+(?:not\s+)?in\s*\(([^)]*)\)", re.IGNORECASE)
_PY_COMPARED = re.compile(r'col\(\s*"status"\s*\)\s*(?:==|!=)\s*"([^"]*)"')


@functools.cache
def _models() -> dict[str, str]:
    """Return each dbt model's SQL by name, its comments (Jinja and SQL) taken out."""
    return {
        path.stem: re.sub(r"\{#.*?#\}|--[^\n]*", "", path.read_text(), flags=re.DOTALL)
        for path in (DBT / "models").rglob("*.sql")
    }


@functools.cache
def _silver_tables(model: str) -> frozenset[str]:
    """Return the silver tables a model reads, through the models it refers to."""
    sql = _models()[model]
    found = set(_SOURCE.findall(sql))
    for upstream in _REF.findall(sql):
        if upstream in _models():
            found |= _silver_tables(upstream)
    return frozenset(found)


def _accepted_values() -> Iterator[tuple[str, str, object]]:
    """Yield (model, column, values) for every accepted_values test on a column in the dbt ymls."""
    for path in sorted((DBT / "models").rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models") or []:
            for column in model.get("columns") or []:
                for test in column.get("data_tests") or column.get("tests") or []:
                    if isinstance(test, dict) and "accepted_values" in test:
                        spec = test["accepted_values"]
                        yield model["name"], column["name"], spec.get("arguments", spec)["values"]


def _expected(model: str, column: str) -> str | None:
    """Return the call of the contract's macros that gives a model's column its accepted values, matched to a feed's
    field by name: an order's status is the whole lifecycle, a status change's the feed's statuses. None when no feed
    has the field."""
    if column == "status":
        reads = _silver_tables(model) & {"orders", "order_status_history"}
        assert len(reads) == 1, f"{model}.status: cannot tell an order's status from a status change's ({reads})"
        return (
            "{{ order_lifecycle() }}" if reads == {"orders"} else "{{ accepted_values_of('order_status', 'status') }}"
        )
    feeds = [entity.name for entity in contract.ENTITIES if column in entity.accepted]
    assert len(feeds) <= 1, f"feeds {feeds} both have a field {column}: say which one the column is"
    return f"{{{{ accepted_values_of('{feeds[0]}', '{column}') }}}}" if feeds else None


def test_the_lifecycle_names_each_status_and_milestone_column_once():
    assert len(set(LIFECYCLE)) == len(LIFECYCLE)
    milestones = [status.milestone for status in contract.ORDER_LIFECYCLE if status.milestone]
    assert len(set(milestones)) == len(milestones)
    assert (contract.PLACED, *contract.ORDER_STATUSES) == LIFECYCLE


def test_the_generator_plans_every_status_a_status_change_may_set():
    assert sorted(generated_orders.PLANNED) == list(range(len(contract.ORDER_STATUSES)))


def test_every_accepted_values_test_of_dbt_takes_its_values_from_the_contract():
    found = list(_accepted_values())
    checked = {(model, column) for model, column, _ in found if _expected(model, column) is not None}
    assert {(m, c) for m, c, _ in found} - checked == DERIVED, "a column outside the contract: add it to DERIVED"
    assert {"status", "event_type", "movement_type"} <= {column for _, column in checked}
    for model, column, values in found:
        if (expected := _expected(model, column)) is not None:
            assert values == expected, f"{model}.{column}: its values are {values!r}, not the contract's {expected}"


def test_the_contract_dbt_reads_is_the_contract():
    read = contract.dbt_contract()
    assert read["order_lifecycle"] == list(LIFECYCLE)
    assert read["order_milestones"] == [status.milestone for status in contract.ORDER_LIFECYCLE if status.milestone]
    assert read["accepted"]["order_status"]["status"] == list(contract.ORDER_STATUSES)
    assert read["accepted"] == {e.name: {f: list(v) for f, v in e.accepted.items()} for e in contract.ENTITIES}


def test_the_status_literals_of_the_sql_and_the_transforms_are_statuses_of_the_contract():
    literals: dict[str, set[str]] = {}
    for model, sql in _models().items():
        found = {a or b for a, b in _COMPARED.findall(sql)}
        found |= {v for listed in _IN_LIST.findall(sql) for v in re.findall(r"'([^']*)'", listed)}
        # Hours are measured to a status, or from one to another: 'shipped' or 'paid_to_shipped'.
        hours = re.findall(r"'(\w+)'\s+as\s+measure\s*,\s*hours_", sql)
        found |= {status for measure in hours for status in measure.split("_to_")}
        if found:
            literals[f"dbt {model}"] = found
    for path in sorted((ROOT / "lakehouse" / "transforms").glob("*.py")):
        if found := set(_PY_COMPARED.findall(path.read_text())):
            literals[str(path.relative_to(ROOT))] = found
    assert {"dbt fct_orders", "dbt mart_fulfilment_daily", "lakehouse/transforms/gold.py"} <= set(literals)
    unknown = {where: sorted(found - set(LIFECYCLE)) for where, found in literals.items() if found - set(LIFECYCLE)}
    assert unknown == {}, "statuses the contract does not have"


def test_the_order_models_pass_every_milestone_column_on_and_name_none_themselves():
    lifecycle_columns = {f"{name}_at" for name in LIFECYCLE}
    for model, sql in _models().items():
        if model in ORDER_MODELS:
            assert "order_milestones(" in sql, f"{model} does not pass the milestones on with order_milestones()"
        named = set(re.findall(r"\b(\w+_at)\b", re.sub(r"\{\{.*?\}\}", "", sql, flags=re.DOTALL)))
        # A mart may measure one milestone (hours to shipped); an order model names none, the macro names them all.
        assert not (model in ORDER_MODELS and named & lifecycle_columns), f"{model} names {named & lifecycle_columns}"
        assert named & lifecycle_columns <= set(contract.MILESTONES.values()), (
            f"{model} names a milestone the contract does not have"
        )

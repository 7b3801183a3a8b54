"""The table catalog: every table the pipeline writes, found by name.

Each table's `TableSpec` lives beside the code that writes it; this module gathers them from the steps' modules,
with one per dbt gold model (`gold.<model>` for each model in dbt_project/models/marts). A test checks that every
spec of the pipeline's modules is here and that a run writes no table the catalog does not know.
"""

from __future__ import annotations

from lakehouse.entities import ENTITIES
from lakehouse.errors import UserError
from lakehouse.pipeline import audit, bronze, dbt_step, gold, landing, silver
from lakehouse.tables import TableSpec


def specs() -> dict[str, TableSpec]:
    """Return every table of the pipeline by name: the landing ledger and the run audit, then layer by layer."""
    found = (
        landing.LEDGER,
        audit.RUN_AUDIT,
        *(bronze.table_spec(entity) for entity in ENTITIES),
        bronze.QUARANTINE,
        *silver.TABLES,
        *gold.TABLES,
        *dbt_step.model_specs().values(),
    )
    return {spec.name: spec for spec in found}


def spec(name: str) -> TableSpec:
    """Return the table `name`, or raise a UserError naming the tables there are."""
    known = specs()
    if name not in known:
        raise UserError(f"unknown table {name}: the pipeline's tables are {', '.join(sorted(known))}")
    return known[name]

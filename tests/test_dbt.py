"""The dbt project on the embedded target, over the pipeline's Delta tables; and parsed for the Trino target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakehouse import dbt

pytestmark = pytest.mark.e2e


def test_dbt_build_passes_over_the_pipeline_output(shop):
    warehouse, tables, _ = shop
    result = dbt.run(warehouse, ["build"])
    assert result.success and result.counts.get("pass", 0) >= 30 and not result.failures
    con = dbt.connect(warehouse)
    try:
        staged = con.sql("select count(*) from staging.stg_orders").fetchone()[0]
    finally:
        con.close()
    assert staged == tables.read("silver.orders").count()


def test_the_project_parses_for_trino_without_a_server(shop):
    warehouse, _, _ = shop
    assert dbt.run(warehouse, ["parse"], target="trino").success
    target = Path(dbt.environment(warehouse, "trino")["DBT_TARGET_PATH"])
    manifest = json.loads((target / "manifest.json").read_text())
    orders = manifest["sources"]["source.lakehouse.silver.orders"]
    assert (orders["database"], orders["schema"], orders["name"]) == ("lakehouse", "silver", "orders")
    assert manifest["nodes"]["model.lakehouse.stg_orders"]["schema"] == "staging"

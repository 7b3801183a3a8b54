"""Superset on the stack: the same semantic layer and the same six dashboards, served over Trino as `superset`.

The shared test shop has gone through every layer and dbt on the test stack, and the same shop (same seed, same days)
through the embedded deployment (tests/stack/conftest.py). Then: the layer validates on Trino as `superset`; Superset
set up in stack mode runs every chart's query on Trino through its chart-data API and draws every dashboard in
headless Chromium; and each KPI shows on Trino the number the embedded Superset shows.
"""

from __future__ import annotations

import json
import math
import urllib.request
from decimal import Decimal

import pytest

from lakehouse.bi import engine, semantic, server
from lakehouse.trino import PIPELINE_USER
from tests.bi.serving import chart_problems, client, counts, expected_counts, kpis, render_problems, serving
from tests.ports import port

pytestmark = [pytest.mark.stack, pytest.mark.e2e]

PORT = str(port(8095))  # the stack's Superset; tests/bi's embedded one uses 8099
EMBEDDED_PORT = str(port(8094))


@pytest.fixture(scope="module")
def stack_warehouse(stack_shop):
    """Return the shared test shop's warehouse on the test stack (every layer, dbt on Trino)."""
    warehouse, _, results = stack_shop
    assert all(r.status == "ok" for r in results), [(r.step, r.error) for r in results if r.status != "ok"]
    return warehouse


@pytest.fixture(scope="module")
def embedded_kpis(embedded_twin):
    """Return what every KPI chart shows on the embedded deployment, for the same shop (same seed, same days)."""
    with serving(embedded_twin.warehouse, EMBEDDED_PORT) as (login, _):
        return kpis(login)


@pytest.fixture(scope="module")
def superset(stack_warehouse, embedded_kpis):
    """Superset set up from nothing in stack mode, serving over Trino; stopped at the end.

    After the embedded one (`embedded_kpis`) has stopped: one Superset at a time on a small machine."""
    with serving(stack_warehouse, PORT) as (login, messages):
        yield stack_warehouse, login, messages


def test_the_semantic_layer_validates_on_trino_as_superset(stack_warehouse):
    layer = semantic.load_layer()
    checks = engine.validate(stack_warehouse, layer)
    failed = [f"{c.dataset}: {c.item} {c.detail}" for c in checks if not c.ok]
    assert not failed
    metrics = [c for c in checks if c.item.startswith("metric ")]
    assert len(metrics) == sum(len(d.metrics) for d in layer.datasets.values())
    # Trino's own type names (DuckDB says TIMESTAMP WITH TIME ZONE): the columns were checked on Trino.
    assert {c.detail for c in checks if c.item == "column quarantined_at"} == {"timestamp(3) with time zone"}


def test_validation_on_trino_fails_a_dataset_that_reads_what_superset_may_not(stack_warehouse):
    dataset = semantic.Dataset(
        name="silver_orders",
        description="Reads silver, which only the pipeline and analysts may read.",
        source=semantic.ROOT / "datasets" / "silver_orders.yml",
        table="silver.orders",
        metrics={"orders": semantic.Metric("orders", "Orders", "count(*)")},
    )
    queries = engine.queries(stack_warehouse)
    try:
        checks = engine.check_dataset(queries, dataset)
    finally:
        queries.close()
    assert [(c.item, c.ok) for c in checks] == [("sql", False)]
    assert checks[0].detail.startswith("fails on Trino: ") and "Access Denied" in checks[0].detail, checks[0].detail


def test_superset_in_stack_mode_serves_every_dashboard_from_trino(superset):
    warehouse, login, messages = superset
    assert login.url == f"http://127.0.0.1:{PORT}"
    assert any(m.startswith("superset: reads Trino at trino://superset@") for m in messages), messages
    assert any("assets imported" in m for m in messages)
    superset_api = client(login)
    layer = semantic.load_layer()
    assert counts(superset_api) == expected_counts(layer)
    (database,) = superset_api.list("database", ["id", "database_name", "backend"])
    assert database["backend"] == "trino"
    assert (
        server.connection(warehouse).sqlalchemy_uri == f"trino://superset@{warehouse.settings.trino_url[7:]}/lakehouse"
    )


def test_every_chart_query_runs_on_trino_as_superset_and_returns_rows(superset):
    warehouse, login, _ = superset
    results, problems = chart_problems(login)
    assert not problems
    assert len(results) == expected_counts(semantic.load_layer())["chart"]
    # Trino saw Superset's queries, each as the user `superset` (the pipeline's user may list everyone's queries).
    request = urllib.request.Request(
        f"{warehouse.settings.trino_url}/v1/query", headers={"X-Trino-User": PIPELINE_USER}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        queries = json.loads(response.read())
    users = {q["session"]["user"] for q in queries if "superset" in (q["session"].get("source") or "").lower()}
    assert users == {"superset"}


def test_every_dashboard_renders_over_trino_in_headless_chromium(superset, tmp_path):
    _, login, _ = superset
    results, problems = render_problems(login, semantic.load_layer(), screenshots=tmp_path)
    assert not problems
    for result in results:
        assert result.screenshot.stat().st_size > 20_000  # a picture with charts on it, not a blank page


def test_every_kpi_shows_on_trino_the_number_it_shows_embedded(superset, embedded_kpis):
    _, login, _ = superset
    on_trino = kpis(login)
    kpi_charts = [c.name for d in semantic.load_layer().dashboards for c in d.charts if c.kind == "kpi"]
    assert sorted(on_trino) == sorted(embedded_kpis) == sorted(kpi_charts)
    different = {
        name: (embedded_kpis[name], value) for name, value in on_trino.items() if not _same(embedded_kpis[name], value)
    }
    assert not different, different


def _same(embedded: object, on_trino: object) -> bool:
    """Equal as the chart shows them: integers exactly, other numbers to 9 significant digits."""
    if isinstance(embedded, int) and isinstance(on_trino, int):
        return embedded == on_trino
    if isinstance(embedded, float | int | Decimal) and isinstance(on_trino, float | int | Decimal):
        return math.isclose(float(embedded), float(on_trino), rel_tol=1e-9, abs_tol=1e-9)
    return embedded == on_trino

"""Dashboard figures for `make bench`: chart-query latency and the time each dashboard takes to render in Chromium.

Two latencies are measured for every chart of every dashboard, each over several rounds after one warm-up:
- on the gold layer: the SQL Superset generates for the chart (asked of its API), run where and as Superset runs it
  (embedded, DuckDB over the views file, one instance kept open; in the stack, Trino as the user `superset`);
- through Superset: the chart-data API past Superset's result cache (`force`), which adds Superset's own work
  (security, query building, JSON) to the query.
Render time is from navigation to the last chart drawn, in headless Chromium: first with the chart cache empty (as
after a pipeline run), then on later visits, which Superset answers from its cache until the data changes.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from lakehouse.bi import api, engine, semantic, server
from lakehouse.devtools import browser
from lakehouse.warehouse import Warehouse


@dataclass
class DashboardFigures:
    gold_query_ms: list[float]
    api_ms: list[float]
    render_seconds: dict[str, list[float]]  # dashboard title -> seconds per visit, the first with an empty cache
    charts: int
    engine: str = "DuckDB"  # where the chart queries ran


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def measure(
    warehouse: Warehouse, progress: Callable[[str], None], rounds: int = 5, visits: int = 4
) -> DashboardFigures:
    """Set Superset up on `warehouse` (if needed), then measure; leaves it serving as it found it."""
    was_running = server.serving(warehouse) is not None
    login = server.up(warehouse, progress=progress)
    try:
        layer = semantic.load_layer()
        client = api.SupersetApi(login.url, login.user, login.password)
        charts = client.list("chart", ["id", "slice_name", "viz_type"])

        progress(f"chart queries: {len(charts)} charts × {rounds} rounds through the API …")
        api_ms: list[float] = []
        sql: dict[int, list[str]] = {}
        for round_number in range(rounds + 1):
            for chart in charts:
                result = client.chart_data(chart, force=True)
                if round_number:  # the first round warms each worker up
                    api_ms.append(result.seconds * 1000)
        for chart in charts:
            body = client.get(f"/api/v1/chart/{chart['id']}/data/?type=query")
            sql[chart["id"]] = [q["query"] for q in body["result"]]

        progress(f"chart queries: the same SQL on the gold layer, {rounds} rounds …")
        gold_ms: list[float] = []
        queries = engine.queries(warehouse)  # where Superset runs them: the views file, or Trino as `superset`
        try:
            for round_number in range(rounds + 1):
                for statements in sql.values():
                    clock = time.perf_counter()
                    for statement in statements:
                        queries.rows(statement.strip().removesuffix(";"))  # as Superset sends it (Trino takes no ;)
                    if round_number:
                        gold_ms.append((time.perf_counter() - clock) * 1000)
        finally:
            queries.close()

        progress(f"dashboards: {len(layer.dashboards)} × {visits} visits in headless Chromium …")
        render: dict[str, list[float]] = {}
        with browser.Browser() as chromium:
            chromium.login(login.url, login.user, login.password)
            # one visit of each first, so Chromium has Superset's scripts cached as a returning user would
            for dashboard in layer.dashboards:
                chromium.check_dashboard(login.url, dashboard.slug, dashboard.title, len(dashboard.charts))
            for dashboard in layer.dashboards:
                warehouse.clear_chart_cache()  # as after a pipeline run
                for _ in range(visits):
                    visit = chromium.check_dashboard(login.url, dashboard.slug, dashboard.title, len(dashboard.charts))
                    if visit.problems:
                        raise RuntimeError(f"dashboard {visit.title} did not render: {'; '.join(visit.problems)}")
                    render.setdefault(visit.title, []).append(visit.seconds or float("nan"))
        return DashboardFigures(gold_ms, api_ms, render, len(charts), queries.engine)
    finally:
        if not was_running:
            server.stop(warehouse)


def _p50_p95(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.0f} ms · p95 {percentile(values, 0.95):.0f} ms"


def summary(figures: DashboardFigures) -> list[tuple[str, str, str]]:
    """(measure, result, detail) rows for the bench table."""
    rows = [
        (
            "chart queries on the gold layer",
            _p50_p95(figures.gold_query_ms),
            f"{figures.charts} charts' SQL as Superset generates it, on {figures.engine}; target p95 < 200 ms",
        ),
        (
            "chart data through Superset's API",
            _p50_p95(figures.api_ms),
            "the same charts, end to end over HTTP, past Superset's cache (its own work included)",
        ),
    ]
    for title, seconds in figures.render_seconds.items():
        warm = seconds[1:] or seconds
        rows.append(
            (
                f"dashboard render: {title}",
                f"{seconds[0]:.2f} s · {statistics.median(warm):.2f} s",
                f"every chart drawn: right after a run (cache empty) · later visits (median of {len(warm)}); "
                "target < 3 s",
            )
        )
    return rows

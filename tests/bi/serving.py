"""What the Superset tests do on either deployment, embedded (tests/bi) and on Trino (tests/stack): serve Superset on
a port of its own, run every chart's query through the chart-data API, open every dashboard in headless Chromium, and
read the number each KPI chart shows."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lakehouse.bi import api, semantic, server
from lakehouse.devtools import browser
from lakehouse.warehouse import Warehouse

PASSWORD = "test-password-1"


@contextmanager
def serving(warehouse: Warehouse, port: str) -> Iterator[tuple[server.Login, list[str]]]:
    """Set Superset up on `warehouse` and serve it on `port`; yield how to log in and what `up` said; stop it after.

    The port, the secret key and the admin password are the test's own, and the environment is left as it was. So is
    the warehouse: Superset's state there (metadata database, views file, logs) goes once it has stopped, and the
    next Superset set up on the same shop (tests/bi's and tests/stack's embedded one share it) starts from nothing."""
    names = ("SUPERSET_PORT", "SUPERSET_SECRET_KEY", "SUPERSET_ADMIN_PASSWORD")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({"SUPERSET_PORT": port, "SUPERSET_SECRET_KEY": "t" * 48, "SUPERSET_ADMIN_PASSWORD": PASSWORD})
    messages: list[str] = []
    try:
        yield server.up(warehouse, progress=messages.append), messages
    finally:
        server.stop(warehouse)
        shutil.rmtree(warehouse.tool_dir("superset"), ignore_errors=True)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def client(login: server.Login) -> api.SupersetApi:
    return api.SupersetApi(login.url, login.user, login.password)


def counts(superset: api.SupersetApi) -> dict[str, int]:
    """Return how many dashboards, charts, datasets and databases Superset has."""
    resources = ("dashboard", "chart", "dataset", "database")
    return {resource: len(superset.list(resource, ["id"])) for resource in resources}


def expected_counts(layer: semantic.Layer) -> dict[str, int]:
    """Return the counts `counts` must give once the layer is imported: one database, every asset once."""
    return {
        "dashboard": len(layer.dashboards),
        "chart": sum(len(d.charts) for d in layer.dashboards),
        "dataset": len(layer.datasets),
        "database": 1,
    }


def chart_problems(login: server.Login) -> tuple[list[api.ChartData], list[str]]:
    """Run every chart's saved query through the chart-data API; return the results and what went wrong (a failed
    request, an error in the result, or no rows)."""
    superset = client(login)
    results = [superset.chart_data(chart) for chart in superset.list("chart", ["id", "slice_name", "viz_type"])]
    problems = [f"{r.name}: {r.status} {r.error}" for r in results if r.status != 200 or r.error]
    problems += [f"{r.name}: no rows" for r in results if r.status == 200 and not r.error and r.rows == 0]
    return results, problems


def render_problems(
    login: server.Login, layer: semantic.Layer, screenshots: Path | None = None
) -> tuple[list[browser.DashboardCheck], list[str]]:
    """Open every dashboard of the layer in headless Chromium; return what was seen and what went wrong."""
    results = browser.check_dashboards(login.url, login.user, login.password, layer.dashboards, screenshots=screenshots)
    problems = [f"{r.title}: {p}" for r in results for p in r.problems]
    for result in results:
        defined = len(next(d for d in layer.dashboards if d.slug == result.slug).charts)
        if result.seconds is None or len(result.charts) != defined:
            problems.append(f"{result.title}: {len(result.charts)} of {defined} charts drawn")
    return results, problems


def kpis(login: server.Login) -> dict[str, Any]:
    """Return the number every KPI chart (a big number) shows, by chart name, as the chart-data API gives it."""
    superset = client(login)
    shown = {}
    for chart in superset.list("chart", ["id", "slice_name", "viz_type"]):
        if chart["viz_type"] != "big_number_total":
            continue
        (result,) = superset.get(f"/api/v1/chart/{chart['id']}/data/")["result"]
        (row,) = result["data"]
        shown[chart["slice_name"]] = row[result["colnames"][0]]
    return shown

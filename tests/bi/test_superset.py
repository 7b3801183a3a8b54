"""Superset, embedded and real: the assets imported into a fresh metadata database, every chart's query run through
Superset's API, every dashboard opened in headless Chromium, and a pipeline run while Superset is up."""

from __future__ import annotations

import os

import pytest

from lakehouse.bi import engine, semantic, server
from lakehouse.devtools import browser
from lakehouse.errors import UserError
from tests.bi.serving import chart_problems, client, counts, expected_counts, render_problems, serving
from tests.ports import port

PORT = str(port(8099))  # not 8088, so a Superset someone is using here is left alone


@pytest.fixture(scope="module")
def superset(shop):
    """Superset set up from nothing on the test shop, serving; stopped at the end. Its tests run with the one that
    adds a day while it serves (`changes_shop`), after the tests that read the shop as made (tests/conftest.py)."""
    warehouse, _, _ = shop
    assert not (warehouse.tool_dir("superset") / "superset.db").exists()  # a fresh metadata database
    with serving(warehouse, PORT) as (login, messages):
        yield warehouse, login, messages


def test_a_wrong_password_in_the_browser_gets_superset_s_own_words(superset):
    _, login, _ = superset
    with browser.Browser() as chromium, pytest.raises(UserError, match=r"could not log in .* Superset says '.+'"):
        chromium.login(login.url, login.user, login.password + "-wrong")


def test_the_semantic_layer_validates_on_the_gold_tables(shop):
    warehouse, _, _ = shop
    checks = engine.validate(warehouse, semantic.load_layer())
    failed = [f"{c.dataset}: {c.item} {c.detail}" for c in checks if not c.ok]
    assert not failed
    metrics = [c for c in checks if c.item.startswith("metric ")]
    assert len(metrics) == sum(len(d.metrics) for d in semantic.load_layer().datasets.values())


def test_a_broken_metric_is_reported_with_its_dataset_and_name(shop, tmp_path):
    warehouse, _, _ = shop
    layer = semantic.load_layer()
    dataset = layer.datasets["sales_order_lines"]
    dataset.metrics["revenue"] = semantic.Metric("revenue", "Revenue", "sum(net_amount_typo)")
    con = engine.connect_views(warehouse)
    checks = engine.check_dataset(con, dataset)
    con.close()
    bad = [c for c in checks if not c.ok]
    assert [(c.dataset, c.item) for c in bad] == [("sales_order_lines", "metric revenue")]
    assert "net_amount_typo" in bad[0].detail


def test_superset_serves_every_dashboard_from_a_fresh_metadata_database(superset):
    _, login, messages = superset
    assert login.url == f"http://127.0.0.1:{PORT}"
    assert any("assets imported" in m for m in messages)
    superset_api = client(login)
    layer = semantic.load_layer()
    titles = {d["dashboard_title"] for d in superset_api.list("dashboard", ["id", "dashboard_title"])}
    assert titles == {d.title for d in layer.dashboards}
    assert counts(superset_api) == expected_counts(layer)


def test_every_chart_query_runs_through_the_api_and_returns_rows(superset):
    _, login, _ = superset
    results, problems = chart_problems(login)
    assert not problems
    assert len(results) == expected_counts(semantic.load_layer())["chart"]


def test_importing_again_replaces_instead_of_adding(superset):
    warehouse, login, _ = superset
    superset_api = client(login)
    before = counts(superset_api)
    server.up(warehouse, progress=lambda _: None)  # setup + import again while serving
    assert counts(superset_api) == before


def test_every_dashboard_renders_in_headless_chromium(superset, tmp_path):
    _, login, _ = superset
    results, problems = render_problems(login, semantic.load_layer(), screenshots=tmp_path)
    assert not problems
    for result in results:
        assert result.screenshot.stat().st_size > 20_000  # a picture with charts on it, not a blank page


def test_the_browser_check_fails_on_a_chart_that_errors(superset, tmp_path):
    """A dashboard whose chart queries a column that is not there must be reported, not passed."""
    warehouse, login, _ = superset
    root = tmp_path / "layer"
    (root / "datasets").mkdir(parents=True)
    (root / "dashboards").mkdir()
    (root / "datasets" / "broken.yml").write_text(
        "name: broken_orders\nmodel: fct_orders\ndescription: A dataset with a metric that cannot run.\n"
        "metrics:\n  - {name: broken_revenue, expression: sum(no_such_column)}\n"
    )
    (root / "dashboards" / "broken.yml").write_text(
        "title: Broken\nslug: broken\nrows:\n"
        "  - - {name: Broken revenue, kind: kpi, dataset: broken_orders, metric: broken_revenue}\n"
    )
    layer = semantic.load_layer(root)
    bundle_path = server.build_bundle(warehouse, layer, tmp_path / "broken.zip")
    server._admin(warehouse, "import", str(bundle_path), progress=lambda _: None)
    result = browser.check_dashboards(login.url, login.user, login.password, layer.dashboards)[0]
    assert result.problems
    assert any("Broken revenue" in p or "chart data request failed" in p for p in result.problems)


@pytest.mark.changes_shop
def test_a_pipeline_run_while_superset_serves_shows_up_in_the_charts(superset, shop):
    from generator import generate
    from lakehouse.pipeline import runner
    from lakehouse.pipeline.context import RunContext

    warehouse, login, _ = superset
    tables = shop[1]
    superset_api = client(login)
    runs = next(c for c in superset_api.list("chart", ["id", "slice_name", "viz_type"]) if c["slice_name"] == "Runs")

    def value() -> float:
        body = superset_api.get(f"/api/v1/chart/{runs['id']}/data/")
        return body["result"][0]["data"][0]["runs"]

    before = value()
    generate(warehouse, 1, progress=False)
    results = runner.run(RunContext(tables))
    assert all(r.status != "failed" for r in results)
    assert server.healthy()
    assert value() == before + 1


def test_a_pid_file_that_goes_while_it_is_read_means_superset_is_not_running(tmp_path, monkeypatch):
    from dataclasses import replace
    from pathlib import Path

    from lakehouse.settings import load_settings
    from lakehouse.warehouse import Warehouse

    warehouse = Warehouse(replace(load_settings(), warehouse=str(tmp_path)))
    pidfile = warehouse.tool_dir("superset") / "gunicorn.pid"
    pidfile.parent.mkdir(parents=True)
    pidfile.write_text(str(os.getpid()))
    assert server.running_pid(warehouse) == os.getpid()
    # gunicorn removes the file as it exits: here it is there when looked for and gone when read.
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: (_ for _ in ()).throw(FileNotFoundError(self)))
    assert server.running_pid(warehouse) is None

"""The semantic layer in superset/: it loads, every reference resolves, and mistakes are named precisely."""

from __future__ import annotations

import math
import textwrap
import zipfile
from pathlib import Path

import pytest
import yaml

from lakehouse.bi import bundle, semantic
from lakehouse.bi.semantic import LayerError, load_layer

DASHBOARDS = {
    "Executive sales",
    "Customers",
    "Products and inventory",
    "Funnel and engagement",
    "Pipeline health",
    "Operations",
}


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def tiny(tmp_path):
    write(
        tmp_path,
        "datasets/orders.yml",
        """
        name: orders
        model: fct_orders
        description: Orders.
        time_column: order_date
        columns:
          - {name: order_date, type: DATE}
          - {name: country, type: VARCHAR}
        metrics:
          - {name: revenue, expression: sum(net_amount)}
          - {name: orders, expression: count(*)}
          - {name: aov, expression: "{revenue} / nullif({orders}, 0)"}
    """,
    )
    write(
        tmp_path,
        "dashboards/sales.yml",
        """
        title: Sales
        slug: sales
        filters:
          - {name: Date, type: time_range}
          - {name: Country, column: country, dataset: orders}
        rows:
          - - {name: Revenue, kind: kpi, dataset: orders, metric: revenue}
            - {name: AOV by country, kind: bar, dataset: orders, metrics: [aov], by: country, width: 9}
    """,
    )
    return tmp_path


def test_the_project_layer_loads_with_the_six_dashboards():
    layer = load_layer()
    assert {d.title for d in layer.dashboards} == DASHBOARDS
    # every chart's metrics belong to its dataset (load_layer checks it; here we look at the result)
    for dashboard in layer.dashboards:
        for chart in dashboard.charts:
            assert set(chart.metrics) <= set(layer.datasets[chart.dataset].metrics)


def test_a_metric_built_on_others_is_expanded_where_it_is_defined(tiny):
    layer = load_layer(tiny)
    assert layer.datasets["orders"].metrics["aov"].expression == "(sum(net_amount)) / nullif((count(*)), 0)"


def test_percentile_is_the_nearest_rank_value_on_duckdb(tiny):
    """`percentile(x, p)` expands into SQL whose answer is the value at rank ceil(p × n) of x's non-null values (the
    stack test compares every KPI on Trino with DuckDB's)."""
    import duckdb

    write(
        tiny,
        "datasets/order_values.yml",
        """
        name: order_values
        model: fct_order_values
        description: Order values.
        columns:
          - {name: currency, type: VARCHAR}
        metrics:
          - {name: median_net, expression: "percentile(net_amount, 0.5)"}
          - {name: p90_net_eur, expression: "percentile(case when currency = 'EUR' then net_amount end, .9) / 100"}
    """,
    )
    metrics = load_layer(tiny).datasets["order_values"].metrics
    con = duckdb.connect()
    con.execute(
        "create table orders as select case when i % 4 = 0 then null else i * 10 end as net_amount,"
        " case when i % 2 = 0 then 'EUR' else 'USD' end as currency from range(1, 11) as t(i)"
    )
    values = sorted(i * 10 for i in range(1, 11) if i % 4)  # 10, 20, 30, 50, 60, 70, 90, 100
    eur = sorted(i * 10 for i in range(1, 11) if i % 4 and i % 2 == 0)  # 20, 60, 100
    median = con.sql(f"select {metrics['median_net'].expression} from orders").fetchone()[0]
    p90 = con.sql(f"select {metrics['p90_net_eur'].expression} from orders").fetchone()[0]
    assert (median, p90) == (values[math.ceil(0.5 * len(values)) - 1], eur[math.ceil(0.9 * len(eur)) - 1] / 100)
    empty = con.sql(f"select {metrics['median_net'].expression} from orders where false").fetchone()[0]
    assert empty is None


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        (
            "dashboards/sales.yml",
            "metric: revenue",
            "metric: profit",
            "chart 'Revenue': 'profit' is not a metric of dataset orders",
        ),
        ("dashboards/sales.yml", "by: country", "by: region", "chart 'AOV by country': 'region' is not a column"),
        ("dashboards/sales.yml", "dataset: orders, metric", "dataset: sales, metric", "no dataset 'sales'"),
        ("datasets/orders.yml", "{orders}", "{order_count}", "metric 'aov' uses {order_count}, which is not a metric"),
        ("datasets/orders.yml", "expression: count(*)", "expression: '{aov}'", "refers to itself"),
        ("datasets/orders.yml", "time_column: order_date", "time_column: country", "must be a declared DATE"),
        ("dashboards/sales.yml", "width: 9", "width: 11", "wider than 12 columns"),
        ("dashboards/sales.yml", "kind: kpi", "kind: gauge", "kind 'gauge' is not one of"),
        ("dashboards/sales.yml", "{name: Revenue,", "{name: Revenue, by day,", "unknown chart key(s) by day"),
        ("datasets/orders.yml", "{name: orders, expression", "{name: orders, expresion", "unknown metric key(s)"),
    ],
)
def test_a_broken_definition_is_named_with_its_file_and_item(tiny, relative, old, new, message):
    path = tiny / relative
    path.write_text(path.read_text().replace(old, new))
    with pytest.raises(LayerError) as caught:
        load_layer(tiny)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_the_bundle_has_stable_uuids_and_superset_s_layout(tiny):
    layer = load_layer(tiny)
    connection = bundle.Connection("duckdb:////tmp/x.duckdb", {})
    first, second = bundle.assets(layer, connection), bundle.assets(load_layer(tiny), connection)
    assert {k for k in first if k != "metadata.yaml"} == {k for k in second if k != "metadata.yaml"}
    uuids = {k: v["uuid"] for k, v in first.items() if "uuid" in v}
    assert uuids == {k: v["uuid"] for k, v in second.items() if "uuid" in v}
    assert len(set(uuids.values())) == len(uuids)  # nothing shares a UUID

    dataset = first["datasets/Lakehouse/orders.yaml"]
    assert dataset["table_name"] == "fct_orders" and dataset["schema"] == "gold"
    assert dataset["main_dttm_col"] == "order_date"
    assert {m["metric_name"] for m in dataset["metrics"]} == {"revenue", "orders", "aov"}
    charts = [v for k, v in first.items() if k.startswith("charts/")]
    # a chart names its metric; the SQL lives only in the dataset
    assert [c["params"]["metric"] for c in charts if c["viz_type"] == "big_number_total"] == ["revenue"]
    assert all("sum(" not in str(c["params"]) for c in charts)

    data = bundle.write_bundle(layer, connection)
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as archive:
        names = archive.namelist()
        assert "lakehouse_assets/metadata.yaml" in names
        assert yaml.safe_load(archive.read("lakehouse_assets/metadata.yaml"))["type"] == "assets"


def test_native_filters_leave_out_charts_whose_dataset_lacks_the_column(tiny):
    write(
        tiny,
        "datasets/totals.yml",
        """
        name: totals
        model: mart_totals
        description: No country here.
        columns:
          - {name: segment, type: VARCHAR}
        metrics:
          - {name: customers, expression: count(*)}
    """,
    )
    path = tiny / "dashboards/sales.yml"
    path.write_text(path.read_text() + "  - - {name: Customers, kind: kpi, dataset: totals, metric: customers}\n")
    layer = load_layer(tiny)
    dashboard = bundle.assets(layer, bundle.Connection("duckdb:///x", {}))["dashboards/sales.yaml"]
    filters = {f["name"]: f for f in dashboard["metadata"]["native_filter_configuration"]}
    position_ids = {
        v["meta"]["sliceName"]: v["meta"]["chartId"]
        for v in dashboard["position"].values()
        if isinstance(v, dict) and v.get("type") == "CHART"
    }
    assert filters["Country"]["scope"]["excluded"] == [position_ids["Customers"]]
    assert filters["Date"]["scope"]["excluded"] == [position_ids["Customers"]]  # totals has no time column
    assert filters["Country"]["targets"][0]["datasetUuid"] == bundle.stable_uuid("dataset", "orders")


def test_every_dataset_reads_only_gold_or_the_pipeline_s_own_records():
    """In the stack Superset reads Trino as `superset`, whom the access rules allow gold and ops only."""
    import sqlglot

    from lakehouse.sql import referenced_tables

    for dataset in semantic.load_layer().datasets.values():
        if dataset.table:
            tables = {tuple(dataset.table.split("."))}
        else:
            tables = referenced_tables(sqlglot.parse_one(dataset.sql, read="trino"))
        assert tables and all(schema in ("gold", "ops") for schema, _ in tables), dataset.name

"""Superset's own import format (a ZIP of YAML files), generated from the semantic layer.

Every asset has a UUID derived from its name, so an import updates what an earlier one created instead of adding
copies. The one database is the only thing that differs between deployments: DuckDB over the views file when
embedded, Trino's `lakehouse` catalog (as the user `superset`) in the stack. Charts carry their query context, so
Superset's chart-data API can run them without a browser.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from lakehouse.bi.semantic import GRAINS, Chart, Dashboard, Dataset, Layer

NAMESPACE = uuid.UUID("6f1c7d0e-3a51-4c8e-9a34-5b0f6f0c2d11")
VERSION = "1.0.0"
DATABASE_NAME = "Lakehouse"
EXTERNAL_URL = "https://github.com/lakehouse/superset"  # shown by Superset on assets it must not edit in place
_CHART_HEIGHT = {"kpi": 24}
_DEFAULT_HEIGHT = 52


def stable_uuid(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


@dataclass(frozen=True)
class Connection:
    """How Superset reaches the lakehouse: a SQLAlchemy URI and the engine parameters it needs, and a password that
    Superset's import takes apart (the URI in the bundle shows it masked; the bundle never holds it)."""

    sqlalchemy_uri: str
    engine_params: dict[str, Any]
    password: str | None = field(default=None, repr=False)


def _database(connection: Connection) -> dict[str, Any]:
    return {
        "database_name": DATABASE_NAME,
        "sqlalchemy_uri": connection.sqlalchemy_uri,
        "cache_timeout": None,
        "expose_in_sqllab": True,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_csv_upload": False,
        "extra": {"engine_params": connection.engine_params, "metadata_params": {}},
        "uuid": stable_uuid("database", DATABASE_NAME),
        "version": VERSION,
    }


def _dataset(dataset: Dataset) -> dict[str, Any]:
    columns = [
        {
            "column_name": column.name,
            "verbose_name": column.label,
            "is_dttm": column.is_temporal,
            "is_active": True,
            "type": column.type,
            "groupby": True,
            "filterable": True,
            "expression": column.expression,
            "description": column.description,
            "python_date_format": None,
            "extra": None,
        }
        for column in dataset.columns.values()
    ]
    metrics = [
        {
            "metric_name": metric.name,
            "verbose_name": metric.label,
            "metric_type": None,
            "expression": metric.expression,
            "description": metric.description,
            "d3format": metric.format,
            "extra": None,
            "warning_text": None,
        }
        for metric in dataset.metrics.values()
    ]
    return {
        "table_name": dataset.table_name,
        "main_dttm_col": dataset.time_column,
        "description": dataset.description,
        "default_endpoint": None,
        "offset": 0,
        "cache_timeout": None,
        "catalog": None,
        "schema": dataset.schema,
        "sql": dataset.sql.strip() if dataset.sql else None,
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": None,
        "normalize_columns": False,
        "always_filter_main_dttm": False,
        "is_managed_externally": True,
        "external_url": f"{EXTERNAL_URL}/datasets/{dataset.source.name}",
        "uuid": stable_uuid("dataset", dataset.name),
        "metrics": metrics,
        "columns": columns,
        "version": VERSION,
        "database_uuid": stable_uuid("database", DATABASE_NAME),
    }


def _format(dataset: Dataset, metric: str) -> str:
    return dataset.metrics[metric].format or "SMART_NUMBER"


def _time_filter(dataset: Dataset) -> list[dict[str, Any]]:
    if not dataset.time_column:
        return []
    return [
        {
            "clause": "WHERE",
            "expressionType": "SIMPLE",
            "subject": dataset.time_column,
            "operator": "TEMPORAL_RANGE",
            "comparator": "No filter",
        }
    ]


def _kpi(chart: Chart, dataset: Dataset) -> dict[str, Any]:
    first = chart.metrics[0]
    return {
        "viz_type": "big_number_total",
        "metric": first,
        "y_axis_format": _format(dataset, first),
        "header_font_size": 0.4,
        "subheader_font_size": 0.15,
    }


def _timeseries(chart: Chart, dataset: Dataset) -> dict[str, Any]:
    """Return a trend's form data (lines over time), or a stacked chart's (stacked bars over time)."""
    specific = {
        "viz_type": "echarts_timeseries_line" if chart.kind == "trend" else "echarts_timeseries_bar",
        "x_axis": dataset.time_column,
        "time_grain_sqla": GRAINS[chart.options["grain"]],
        "metrics": chart.metrics,
        "groupby": chart.by,
        "row_limit": chart.options.get("limit", 10000),
        "truncate_metric": True,
        "show_legend": True,
        "legendType": "scroll",
        "legendOrientation": "top",
        "rich_tooltip": True,
        "y_axis_format": _format(dataset, chart.metrics[0]),
        "x_axis_time_format": "smart_date",
        "tooltipTimeFormat": "smart_date",
        "markerEnabled": False,
        "zoomable": False,
    }
    if chart.kind == "stacked":
        specific["stack"] = "Stack"
    return specific


def _bar(chart: Chart, dataset: Dataset) -> dict[str, Any]:
    """Bars by the first metric, largest first; or by `order_by` (a metric or the x column) in `order`."""
    first = chart.metrics[0]
    return {
        "viz_type": "echarts_timeseries_bar",
        "x_axis": chart.by[0],
        "metrics": chart.metrics,
        "groupby": [],
        "x_axis_sort": chart.options.get("order_by", first),
        "x_axis_sort_asc": chart.options.get("order", "descending") == "ascending",
        "xAxisLabelRotation": 30,
        "row_limit": chart.options.get("limit", 25),
        "orientation": "vertical",
        "show_legend": len(chart.metrics) > 1,
        "rich_tooltip": True,
        "show_value": True,
        "y_axis_format": _format(dataset, first),
        "truncate_metric": True,
    }


def _pie(chart: Chart, dataset: Dataset) -> dict[str, Any]:
    first = chart.metrics[0]
    return {
        "viz_type": "pie",
        "metric": first,
        "groupby": chart.by,
        "row_limit": chart.options.get("limit", 10000),
        "donut": True,
        "show_labels": True,
        "labels_outside": False,
        "label_type": "percent",
        "number_format": _format(dataset, first),
        "show_legend": True,
        "legendOrientation": "right",
        "legendType": "scroll",
        "innerRadius": 40,
        "outerRadius": 70,
    }


def _table(chart: Chart, dataset: Dataset) -> dict[str, Any]:
    """Return a table's form data: raw rows in a given order, or aggregates ordered by the first metric."""
    limit = chart.options.get("limit", 10000)
    if chart.options.get("raw"):
        order_by = chart.options.get("order_by", chart.by[0])
        return {
            "viz_type": "table",
            "query_mode": "raw",
            "all_columns": chart.by,
            "order_by_cols": [json.dumps([order_by, chart.options.get("order") != "descending"])],
            "row_limit": limit,
            "server_pagination": False,
        }
    return {
        "viz_type": "table",
        "query_mode": "aggregate",
        "groupby": chart.by,
        "metrics": chart.metrics,
        "timeseries_limit_metric": chart.metrics[0] if chart.metrics else None,
        "order_desc": chart.options.get("order", "descending") == "descending",
        "row_limit": limit,
        "server_pagination": False,
        "include_time": False,
        "show_cell_bars": True,
    }


def _heatmap(chart: Chart, dataset: Dataset) -> dict[str, Any]:
    first = chart.metrics[0]
    return {
        "viz_type": "heatmap_v2",
        "x_axis": chart.options["x"],
        "groupby": chart.options["y"],
        "metric": first,
        "row_limit": chart.options.get("limit", 10000),
        "normalize_across": "heatmap",
        "linear_color_scheme": "blue_white_yellow",
        "show_values": True,
        "show_percentage": False,
        "show_legend": True,
        "value_bounds": [None, None],
        "y_axis_format": _format(dataset, first),
        "sort_x_axis": "alpha_asc",
        "sort_y_axis": "alpha_asc",
        "xscale_interval": -1,
        "yscale_interval": -1,
    }


def _funnel(chart: Chart, dataset: Dataset) -> dict[str, Any]:
    first = chart.metrics[0]
    return {
        "viz_type": "funnel",
        "groupby": chart.by,
        "metric": first,
        "row_limit": chart.options.get("limit", 10000),
        "sort_by_metric": True,
        "show_labels": True,
        "show_tooltip_labels": True,
        "label_type": "key_value_percent",
        "number_format": _format(dataset, first),
        "show_legend": False,
    }


# The form data particular to each kind of chart (semantic.CHART_KINDS), as Superset's explore view saves it.
_KIND_PARAMS: dict[str, Callable[[Chart, Dataset], dict[str, Any]]] = {
    "kpi": _kpi,
    "trend": _timeseries,
    "stacked": _timeseries,
    "bar": _bar,
    "pie": _pie,
    "table": _table,
    "heatmap": _heatmap,
    "funnel": _funnel,
}


def chart_params(chart: Chart, dataset: Dataset) -> dict[str, Any]:
    """Return the chart's form data, as Superset's explore view would save it."""
    common: dict[str, Any] = {
        "adhoc_filters": _time_filter(dataset),
        "time_range": "No filter",
        "extra_form_data": {},
        "dashboards": [],
        "color_scheme": "supersetColors",
    }
    if dataset.time_column:
        common["granularity_sqla"] = dataset.time_column
    return {**common, **_KIND_PARAMS[chart.kind](chart, dataset)}


def query_context(chart: Chart, dataset: Dataset, params: dict[str, Any]) -> dict[str, Any]:
    """Return the chart's data query in the chart-data API's form (what the frontend would build from `params`)."""
    columns: list[Any] = []
    orderby: list[Any] = []
    metrics: list[str] = list(chart.metrics)
    if chart.kind in ("trend", "stacked"):
        columns = [
            {
                "timeGrain": params["time_grain_sqla"],
                "columnType": "BASE_AXIS",
                "sqlExpression": dataset.time_column,
                "label": dataset.time_column,
                "expressionType": "SQL",
            },
            *chart.by,
        ]
    elif chart.kind == "heatmap":
        columns = [chart.options["x"], chart.options["y"]]
    elif chart.kind == "table" and chart.options.get("raw"):
        columns = list(chart.by)
        orderby = [json.loads(item) for item in params["order_by_cols"]]
    else:
        columns = list(chart.by)
    if metrics and chart.kind != "kpi":
        orderby = [[metrics[0], not params.get("order_desc", True) if chart.kind == "table" else False]]
    filters = [{"col": dataset.time_column, "op": "TEMPORAL_RANGE", "val": "No filter"}] if dataset.time_column else []
    query = {
        "filters": filters,
        "extras": {"having": "", "where": ""},
        "applied_time_extras": {},
        "columns": columns,
        "metrics": metrics,
        "orderby": orderby,
        "annotation_layers": [],
        "row_limit": params.get("row_limit", 10000),
        "series_limit": 0,
        "order_desc": True,
        "url_params": {},
        "custom_params": {},
        "custom_form_data": {},
    }
    return {
        "datasource": {"id": 0, "type": "table"},  # set by Superset on import
        "force": False,
        "queries": [query],
        "form_data": params,
        "result_format": "json",
        "result_type": "full",
    }


def _chart(chart: Chart, dataset: Dataset, dashboard: Dashboard) -> dict[str, Any]:
    params = chart_params(chart, dataset)
    return {
        "slice_name": chart.name,
        "description": None,
        "certified_by": None,
        "certification_details": None,
        "viz_type": params["viz_type"],
        "params": params,
        "query_context": json.dumps(query_context(chart, dataset, params)),
        "cache_timeout": None,
        "is_managed_externally": True,
        "external_url": f"{EXTERNAL_URL}/dashboards/{dashboard.source.name}",
        "uuid": stable_uuid("chart", chart.key),
        "version": VERSION,
        "dataset_uuid": stable_uuid("dataset", dataset.name),
    }


def _native_filters(dashboard: Dashboard, layer: Layer, chart_ids: dict[str, int]) -> list[dict[str, Any]]:
    configured = []
    for item in dashboard.filters:
        if item.type == "time_range":
            applies = [c for c in dashboard.charts if layer.datasets[c.dataset].time_column]
            targets: list[dict[str, Any]] = [{}]
            filter_type = "filter_time"
            control: dict[str, Any] = {"enableEmptyFilter": False}
        else:
            assert item.dataset is not None, f"select filter {item.name} has no dataset"  # checked on load
            applies = [c for c in dashboard.charts if item.column in layer.datasets[c.dataset].columns]
            targets = [{"column": {"name": item.column}, "datasetUuid": stable_uuid("dataset", item.dataset)}]
            filter_type = "filter_select"
            control = {
                "enableEmptyFilter": False,
                "defaultToFirstItem": False,
                "multiSelect": True,
                "searchAllOptions": False,
                "inverseSelection": False,
            }
        excluded = [chart_ids[c.key] for c in dashboard.charts if c not in applies]
        configured.append(
            {
                "id": "NATIVE_FILTER-" + stable_uuid("filter", f"{dashboard.slug}/{item.name}")[:18],
                "name": item.name,
                "filterType": filter_type,
                "type": "NATIVE_FILTER",
                "targets": targets,
                "controlValues": control,
                "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
                "cascadeParentIds": [],
                "scope": {"rootPath": ["ROOT_ID"], "excluded": excluded},
                "description": "",
            }
        )
    return configured


def _position(dashboard: Dashboard, chart_ids: dict[str, int]) -> dict[str, Any]:
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": dashboard.title}},
    }
    for number, row in enumerate(dashboard.rows):
        row_id = f"ROW-{number}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {
            "type": "ROW",
            "id": row_id,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for chart in row:
            chart_id = f"CHART-{stable_uuid('chart', chart.key)[:10]}"
            position[row_id]["children"].append(chart_id)
            position[chart_id] = {
                "type": "CHART",
                "id": chart_id,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {
                    "chartId": chart_ids[chart.key],
                    "uuid": stable_uuid("chart", chart.key),
                    "sliceName": chart.name,
                    "width": chart.width,
                    "height": _CHART_HEIGHT.get(chart.kind, _DEFAULT_HEIGHT),
                },
            }
    return position


def _dashboard(dashboard: Dashboard, layer: Layer) -> dict[str, Any]:
    # Superset maps these placeholder chart ids to the imported charts' ids through the position's UUIDs.
    chart_ids = {chart.key: number for number, chart in enumerate(dashboard.charts, start=1)}
    return {
        "dashboard_title": dashboard.title,
        "description": dashboard.description,
        "css": "",
        "slug": dashboard.slug,
        "certified_by": None,
        "certification_details": None,
        "published": True,
        "is_managed_externally": True,
        "external_url": f"{EXTERNAL_URL}/dashboards/{dashboard.source.name}",
        "uuid": stable_uuid("dashboard", dashboard.slug),
        "position": _position(dashboard, chart_ids),
        "metadata": {
            "native_filter_configuration": _native_filters(dashboard, layer, chart_ids),
            "color_scheme": "supersetColors",
            "cross_filters_enabled": False,
            "expanded_slices": {},
            "refresh_frequency": 0,
            "timed_refresh_immune_slices": [],
            "default_filters": "{}",
        },
        "version": VERSION,
    }


def assets(layer: Layer, connection: Connection) -> dict[str, dict[str, Any]]:
    """Return every file of the bundle as {path: content}."""
    files: dict[str, dict[str, Any]] = {
        "metadata.yaml": {"version": VERSION, "type": "assets", "timestamp": datetime.now(UTC).isoformat()},
        f"databases/{DATABASE_NAME}.yaml": _database(connection),
    }
    for dataset in layer.datasets.values():
        files[f"datasets/{DATABASE_NAME}/{dataset.name}.yaml"] = _dataset(dataset)
    for dashboard in layer.dashboards:
        for chart in dashboard.charts:
            files[f"charts/{dashboard.slug}/{stable_uuid('chart', chart.key)}.yaml"] = _chart(
                chart, layer.datasets[chart.dataset], dashboard
            )
        files[f"dashboards/{dashboard.slug}.yaml"] = _dashboard(dashboard, layer)
    return files


def write_bundle(layer: Layer, connection: Connection) -> bytes:
    """Return the bundle as ZIP bytes, in the layout `superset import` and the assets API take."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in assets(layer, connection).items():
            archive.writestr(f"lakehouse_assets/{path}", yaml.safe_dump(content, sort_keys=False, allow_unicode=True))
    return buffer.getvalue()

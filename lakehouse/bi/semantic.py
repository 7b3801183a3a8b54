"""The semantic dataset layer: datasets, metrics and dashboards as code, read from `superset/`.

A dataset (`superset/datasets/<name>.yml`) is one gold model, or a view of it joined to its dimensions, with its
description, its columns (time column, dimensions, calculated columns) and its metrics. A metric is defined once, in
its dataset; a metric may use another of the same dataset as `{name}`. Dashboards (`superset/dashboards/<name>.yml`)
name charts by kind (kpi, trend, bar, pie, table, heatmap, funnel, stacked) and refer to metrics and columns only by
name, so nothing is copied into a chart. SQL is written once, in the subset Trino and DuckDB both run.

This module reads and checks the layer; `lakehouse.bi.bundle` turns it into Superset's import format and
`lakehouse.bi.engine` runs it on the embedded engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lakehouse.errors import UserError

ROOT = Path(__file__).resolve().parents[2] / "superset"
CHART_KINDS = ("kpi", "trend", "bar", "pie", "table", "heatmap", "funnel", "stacked")
GRAINS = {"day": "P1D", "week": "P1W", "month": "P1M"}
TEMPORAL_TYPES = ("DATE", "TIMESTAMP")
_REFERENCE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class LayerError(UserError):
    """A definition in `superset/` is wrong; the message names the file and the item."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    label: str | None = None
    description: str | None = None
    expression: str | None = None  # a calculated column

    @property
    def is_temporal(self) -> bool:
        return self.type.upper().startswith(TEMPORAL_TYPES)


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    expression: str  # with every {reference} expanded
    format: str | None = None
    description: str | None = None


@dataclass
class Dataset:
    name: str
    description: str
    source: Path
    table: str | None = None  # schema.table of a physical dataset
    sql: str | None = None  # or a view, in SQL both engines run
    model: str | None = None
    time_column: str | None = None
    columns: dict[str, Column] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        return (self.table or "gold.").split(".", 1)[0]

    @property
    def table_name(self) -> str:
        """The name Superset knows the dataset by (unique across the metadata database)."""
        return self.table.split(".", 1)[1] if self.table else self.name

    def from_clause(self) -> str:
        """Return what a query over the dataset selects from: the table, or the view's SQL as a subquery."""
        if self.table:
            return self.table
        assert self.sql is not None, f"dataset {self.name} has neither a table nor sql"  # checked on load
        return f"(\n{self.sql.strip()}\n) as {self.name}"


@dataclass
class Chart:
    name: str
    kind: str
    dataset: str
    metrics: list[str]
    by: list[str]
    width: int
    options: dict[str, Any]
    key: str  # stable within the dashboard: dashboard slug + chart name


@dataclass
class Filter:
    name: str
    type: str  # time_range or select
    column: str | None = None
    dataset: str | None = None


@dataclass
class Dashboard:
    title: str
    slug: str
    description: str
    source: Path
    order: int
    filters: list[Filter]
    rows: list[list[Chart]]

    @property
    def charts(self) -> list[Chart]:
        return [chart for row in self.rows for chart in row]


@dataclass
class Layer:
    datasets: dict[str, Dataset]
    dashboards: list[Dashboard]


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise LayerError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise LayerError(f"{path}: expected a mapping at the top")
    return data


_KEYS = {
    "dataset": {"name", "model", "table", "sql", "description", "time_column", "columns", "metrics"},
    "column": {"name", "type", "label", "description", "expression"},
    "metric": {"name", "label", "expression", "format", "description"},
    "dashboard": {"title", "slug", "order", "description", "filters", "rows"},
    "filter": {"name", "type", "column", "dataset"},
    "chart": {
        "name",
        "kind",
        "dataset",
        "metric",
        "metrics",
        "by",
        "width",
        "x",
        "y",
        "grain",
        "limit",
        "order",
        "order_by",
        "raw",
    },
}


def _known_keys(data: dict[str, Any], kind: str, where: str) -> None:
    unknown = sorted(str(k) for k in set(data) - _KEYS[kind])
    if unknown:
        hint = " (a comma in an unquoted name splits it: quote the name)" if None in data.values() else ""
        raise LayerError(
            f"{where}: unknown {kind} key(s) {', '.join(unknown)}{hint}; known: {', '.join(sorted(_KEYS[kind]))}"
        )


def _require(data: dict[str, Any], key: str, where: str) -> Any:
    if data.get(key) in (None, "", []):
        raise LayerError(f"{where}: `{key}` is required")
    return data[key]


# `percentile(x, p)` in a metric: the exact percentile by nearest rank (the value at rank ceil(p × n) of the n
# values of x that are not null), spelled in SQL that Trino and DuckDB both run and answer alike; Trino has only an
# estimate (approx_percentile), and DuckDB's quantiles interpolate. x may not hold a comma or a parenthesis.
_PERCENTILE = re.compile(r"\bpercentile\(\s*([^,()]+?)\s*,\s*(0?\.[0-9]+|1(?:\.0*)?)\s*\)")


def _percentile(match: re.Match[str]) -> str:
    x, p = match.group(1), match.group(2)
    return (
        f"case when count({x}) > 0 then array_sort(array_agg({x}) filter (where {x} is not null))"
        f"[cast(ceil({p} * count({x})) as integer)] end"
    )


def _expand(name: str, raw: dict[str, str], where: str, seen: tuple[str, ...] = ()) -> str:
    if name in seen:
        raise LayerError(f"{where}: metric {name!r} refers to itself through {' → '.join((*seen, name))}")

    def substitute(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref not in raw:
            raise LayerError(f"{where}: metric {name!r} uses {{{ref}}}, which is not a metric of this dataset")
        return f"({_expand(ref, raw, where, (*seen, name))})"

    return _PERCENTILE.sub(_percentile, _REFERENCE.sub(substitute, raw[name]))


def load_dataset(path: Path) -> Dataset:
    data = _load_yaml(path)
    _known_keys(data, "dataset", str(path))
    name = _require(data, "name", str(path))
    if not _NAME.match(name):
        raise LayerError(f"{path}: dataset name {name!r} must be lower_snake_case")
    if data.get("sql"):
        table = None
    elif data.get("table") or data.get("model"):
        table = data.get("table") or f"gold.{data['model']}"
    else:
        raise LayerError(f"{path}: give the dataset a `model` (a gold model), a `table` or its `sql`")
    dataset = Dataset(
        name=name,
        description=" ".join(str(_require(data, "description", str(path))).split()),
        source=path,
        table=table,
        sql=data.get("sql"),
        model=data.get("model"),
        time_column=data.get("time_column"),
    )
    for raw in data.get("columns") or []:
        where = f"{path}: column {raw.get('name')!r}"
        _known_keys(raw, "column", where)
        column = Column(
            name=_require(raw, "name", where),
            type=str(_require(raw, "type", where)).upper(),
            label=raw.get("label"),
            description=raw.get("description"),
            expression=raw.get("expression"),
        )
        if column.name in dataset.columns:
            raise LayerError(f"{path}: column {column.name!r} is declared twice")
        dataset.columns[column.name] = column
    raw_metrics = {}
    for raw in _require(data, "metrics", str(path)):
        metric_name = _require(raw, "name", f"{path}: a metric")
        _known_keys(raw, "metric", f"{path}: metric {metric_name!r}")
        if metric_name in raw_metrics:
            raise LayerError(f"{path}: metric {metric_name!r} is defined twice")
        if metric_name in dataset.columns:
            raise LayerError(f"{path}: metric {metric_name!r} has the name of a column; Superset needs them apart")
        raw_metrics[metric_name] = str(_require(raw, "expression", f"{path}: metric {metric_name!r}")).strip()
    for raw in data["metrics"]:
        dataset.metrics[raw["name"]] = Metric(
            name=raw["name"],
            label=raw.get("label") or raw["name"],
            expression=_expand(raw["name"], raw_metrics, str(path)),
            format=raw.get("format"),
            description=raw.get("description"),
        )
    if dataset.time_column is not None:
        time_column = dataset.columns.get(dataset.time_column)
        if time_column is None or not time_column.is_temporal:
            raise LayerError(f"{path}: time_column {dataset.time_column!r} must be a declared DATE or TIMESTAMP column")
    return dataset


def _chart(raw: dict[str, Any], slug: str, datasets: dict[str, Dataset], where: str) -> Chart:
    name = _require(raw, "name", where)
    where = f"{where}: chart {name!r}"
    _known_keys(raw, "chart", where)
    kind = _require(raw, "kind", where)
    if kind not in CHART_KINDS:
        raise LayerError(f"{where}: kind {kind!r} is not one of {', '.join(CHART_KINDS)}")
    dataset_name = _require(raw, "dataset", where)
    dataset = datasets.get(dataset_name)
    if dataset is None:
        raise LayerError(f"{where}: no dataset {dataset_name!r} in superset/datasets/ (have {', '.join(datasets)})")
    metrics = raw.get("metrics") or ([raw["metric"]] if raw.get("metric") else [])
    if not metrics and not (kind == "table" and raw.get("raw")):
        raise LayerError(f"{where}: give `metric` or `metrics` (only a raw table lists columns alone)")
    for metric in metrics:
        if metric not in dataset.metrics:
            raise LayerError(
                f"{where}: {metric!r} is not a metric of dataset {dataset_name} (it has {', '.join(dataset.metrics)})"
            )
    by = raw.get("by") or []
    by = [by] if isinstance(by, str) else list(by)
    for key in ("x", "y"):
        if raw.get(key):
            by.append(raw[key])
    for column in by:
        if column not in dataset.columns:
            raise LayerError(f"{where}: {column!r} is not a column of dataset {dataset_name}")
    needs_time = kind in ("trend", "stacked")
    if needs_time and not dataset.time_column:
        raise LayerError(f"{where}: a {kind} chart needs a dataset with a time_column")
    grain = raw.get("grain", "day")
    if grain not in GRAINS:
        raise LayerError(f"{where}: grain {grain!r} is not one of {', '.join(GRAINS)}")
    options = {k: v for k, v in raw.items() if k not in ("name", "kind", "dataset", "metric", "metrics", "by", "width")}
    options["grain"] = grain
    return Chart(
        name=name,
        kind=kind,
        dataset=dataset_name,
        metrics=list(metrics),
        by=by,
        width=int(raw.get("width", 3)),
        options=options,
        key=f"{slug}/{name}",
    )


def load_dashboard(path: Path, datasets: dict[str, Dataset]) -> Dashboard:
    data = _load_yaml(path)
    _known_keys(data, "dashboard", str(path))
    slug = _require(data, "slug", str(path))
    filters = []
    for raw in data.get("filters") or []:
        where = f"{path}: filter {raw.get('name')!r}"
        _known_keys(raw, "filter", where)
        kind = raw.get("type", "select")
        if kind == "select":
            dataset = datasets.get(_require(raw, "dataset", where))
            if dataset is None or raw.get("column") not in dataset.columns:
                raise LayerError(f"{where}: {raw.get('dataset')}.{raw.get('column')} is not a declared column")
        elif kind != "time_range":
            raise LayerError(f"{where}: type {kind!r} is not time_range or select")
        filters.append(
            Filter(name=_require(raw, "name", where), type=kind, column=raw.get("column"), dataset=raw.get("dataset"))
        )
    rows = []
    for row in _require(data, "rows", str(path)):
        charts = [_chart(raw, slug, datasets, str(path)) for raw in row]
        if sum(chart.width for chart in charts) > 12:
            raise LayerError(f"{path}: the row of {', '.join(c.name for c in charts)} is wider than 12 columns")
        rows.append(charts)
    names = [chart.name for row in rows for chart in row]
    if len(names) != len(set(names)):
        raise LayerError(f"{path}: two charts share a name; chart names identify charts and must differ")
    return Dashboard(
        title=_require(data, "title", str(path)),
        slug=slug,
        description=" ".join(str(data.get("description", "")).split()),
        source=path,
        order=int(data.get("order", 99)),
        filters=filters,
        rows=rows,
    )


def load_layer(root: Path = ROOT) -> Layer:
    """Read and check every dataset and dashboard under `root`; raise LayerError naming the first problem."""
    datasets: dict[str, Dataset] = {}
    for path in sorted((root / "datasets").glob("*.yml")):
        dataset = load_dataset(path)
        if dataset.table_name in {d.table_name for d in datasets.values()}:
            raise LayerError(f"{path}: another dataset is already called {dataset.table_name!r} in Superset")
        datasets[dataset.name] = dataset
    if not datasets:
        raise LayerError(f"{root / 'datasets'}: no dataset definitions (*.yml) found")
    dashboards = [load_dashboard(path, datasets) for path in sorted((root / "dashboards").glob("*.yml"))]
    dashboards.sort(key=lambda d: (d.order, d.title))
    slugs = [d.slug for d in dashboards]
    if len(slugs) != len(set(slugs)):
        raise LayerError(f"{root / 'dashboards'}: two dashboards share a slug")
    return Layer(datasets=datasets, dashboards=dashboards)

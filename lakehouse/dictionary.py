"""`python -m lakehouse.dictionary`: write docs/data-dictionary.md from the definitions it describes.

The dbt models' ymls (`dbt_project/models/**/*.yml`: sources, models, columns, descriptions, tests) and the semantic
layer (`superset/datasets/`, read by `lakehouse.bi.semantic`, as Superset gets it) are the one source; the file is
never edited by hand. With `--check` nothing is written: the command exits 1 when the file is not what it would write
(what `make lint` runs).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lakehouse import entities
from lakehouse.bi import semantic

PROJECT = Path(__file__).resolve().parents[1]
MODELS = PROJECT / "dbt_project" / "models"
OUTPUT = PROJECT / "docs" / "data-dictionary.md"
FOLDERS = ("staging", "intermediate", "marts")  # in the order the data flows; any other folder comes after them
_REF = re.compile(r"""ref\(['"]([^'"]+)['"]\)""")
_TABLE = re.compile(r"\b(?:bronze|silver|gold|ops)\.[a-z_][a-z0-9_]*\b")

Source = tuple[str, str, str]  # a table dbt reads: schema.table, its name in dbt, what it holds


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    tests: tuple[str, ...]


@dataclass(frozen=True)
class Model:
    name: str
    folder: str  # staging, intermediate, marts
    description: str
    tests: tuple[str, ...]  # the model's own tests (several columns at once)
    columns: tuple[Column, ...]


def _text(value: Any) -> str:
    """Return a description on one line, safe inside a Markdown table cell."""
    return " ".join(str(value or "").split()).replace("|", "\\|")


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, str) and (values := _contract_values(value)) is not None:
        return _value(values)
    return _REF.sub(r"\1", str(value))


_CONTRACT_CALL = re.compile(r"^\{\{\s*(order_lifecycle|accepted_values_of)\(\s*(?:'(\w+)',\s*'(\w+)')?\s*\)\s*\}\}$")


def _contract_values(value: str) -> list[str] | None:
    """Return the values a call of the contract's macros (dbt_project/macros/contract.sql) in a yml stands for, or
    None when `value` is not one: `{{ order_lifecycle() }}`, `{{ accepted_values_of('events', 'event_type') }}`."""
    call = _CONTRACT_CALL.match(value.strip())
    if call is None:
        return None
    read = entities.dbt_contract()
    if call[1] == "order_lifecycle":
        return read["order_lifecycle"]
    return read["accepted"][call[2]][call[3]]


def _test(test: str | dict[str, Any]) -> str:
    """Return a test as one label: `unique`, or `relationships (to: fct_orders; field: order_id)`."""
    if isinstance(test, str):
        return test
    (name, spec), *_ = test.items()
    arguments = (spec or {}).get("arguments", spec or {})
    return f"{name} ({'; '.join(f'{k}: {_value(v)}' for k, v in arguments.items())})" if arguments else name


def _tests(node: dict[str, Any]) -> tuple[str, ...]:
    return tuple(_text(_test(t)) for t in node.get("data_tests") or node.get("tests") or [])


def load_models(models: Path = MODELS) -> tuple[list[Model], list[Source]]:
    """Return every model declared in the ymls under `models`, and every source table."""
    found: list[Model] = []
    sources: list[Source] = []
    for path in sorted(models.rglob("*.yml")):
        data = yaml.safe_load(path.read_text()) or {}
        for source in data.get("sources") or []:
            schema, name = source.get("schema", source["name"]), source["name"]
            sources += [
                (f"{schema}.{t['name']}", f"{name}.{t['name']}", _text(t.get("description"))) for t in source["tables"]
            ]
        for raw in data.get("models") or []:
            columns = tuple(Column(c["name"], _text(c.get("description")), _tests(c)) for c in raw.get("columns") or [])
            parts = path.relative_to(models).parts
            folder = parts[0] if len(parts) > 1 else ""
            found.append(Model(raw["name"], folder, _text(raw.get("description")), _tests(raw), columns))
    order = {folder: i for i, folder in enumerate(FOLDERS)}
    return sorted(found, key=lambda m: (order.get(m.folder, len(order)), m.folder, m.name)), sorted(sources)


def _models_section(models: list[Model], sources: list[Source]) -> list[str]:
    lines = ["## dbt sources", "", "| table | in dbt | description |", "|---|---|---|"]
    lines += [f"| `{table}` | `{name}` | {description} |" for table, name, description in sources]
    for folder in dict.fromkeys(m.folder for m in models):
        lines += ["", f"## dbt models: {folder}"]
        for model in (m for m in models if m.folder == folder):
            lines += ["", f"### `{model.name}`", "", model.description or "(no description)"]
            if model.tests:
                lines += ["", "Tests: " + ", ".join(f"`{t}`" for t in model.tests)]
            if model.columns:
                lines += ["", "| column | description | tests |", "|---|---|---|"]
                lines += [
                    f"| `{c.name}` | {c.description} | {', '.join(f'`{t}`' for t in c.tests)} |" for c in model.columns
                ]
    return lines


def _layer_section(layer: semantic.Layer) -> list[str]:
    lines = ["", "## Semantic layer: datasets and metrics"]
    for dataset in layer.datasets.values():
        tables = [dataset.table] if dataset.table else list(dict.fromkeys(_TABLE.findall(dataset.sql or "")))
        reads = ("" if dataset.table else "a view (SQL) of ") + ", ".join(f"`{t}`" for t in tables)
        time = f"; time column `{dataset.time_column}`" if dataset.time_column else ""
        lines += ["", f"### `{dataset.name}`", "", f"{_text(dataset.description)} Reads {reads}{time}."]
        lines += ["", "| column | type | label | description |", "|---|---|---|---|"]
        for c in dataset.columns.values():
            described = _text(c.description) + (f" Calculated: `{_text(c.expression)}`." if c.expression else "")
            lines.append(f"| `{c.name}` | {c.type} | {_text(c.label)} | {described.strip()} |")
        lines += ["", "| metric | label | expression (as Superset runs it) | description |", "|---|---|---|---|"]
        lines += [
            f"| `{m.name}` | {_text(m.label)} | `{_text(m.expression)}` | {_text(m.description)} |"
            for m in dataset.metrics.values()
        ]
    return lines


def render(models: list[Model], sources: list[Source], layer: semantic.Layer) -> str:
    """Return the data dictionary as Markdown."""
    head = [
        "# Data dictionary",
        "",
        "Generated by `python -m lakehouse.dictionary` from the dbt models' ymls (`dbt_project/models/`) and the",
        "semantic layer (`superset/datasets/`): edit those, then run it again; `make lint` fails while this file is",
        "stale. A model lists the columns its yml declares.",
        "",
    ]
    return "\n".join(head + _models_section(models, sources) + _layer_section(layer)) + "\n"


def build(models: Path = MODELS, superset: Path = semantic.ROOT) -> str:
    """Return the data dictionary of the models under `models` and the semantic layer under `superset`."""
    return render(*load_models(models), semantic.load_layer(superset))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale; write nothing")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = build()
    if not args.check:
        args.output.write_text(text)
    elif not args.output.is_file() or args.output.read_text() != text:
        print(f"{args.output} is stale: run `python -m lakehouse.dictionary` and commit it", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

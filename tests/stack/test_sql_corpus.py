"""`lakehouse sql` is Trino SQL on both engines: every query of the corpus gets the same answer embedded and on Trino.

The corpus (tests/sql_corpus/queries.yml) runs on the stack's Trino and on the embedded engine (DuckDB,
lakehouse/sql.py) reading the same warehouse on the same S3 server, so both see the same Delta versions and the same
commit history.
An answer is equal when the column names, the Trino type names and the rows are; a query the embedded engine cannot
answer as Trino does must be refused with a one-line message naming the construct.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from generator import generate
from lakehouse.errors import UserError
from lakehouse.pipeline import SPARK_LAYERS, runner
from lakehouse.pipeline.context import RunContext
from lakehouse.spark import use_s3
from lakehouse.sql import SqlEngine
from lakehouse.tables import Tables
from lakehouse.trino import CATALOG
from lakehouse.warehouse import Warehouse
from tests.conftest import SHOP_SCALE

pytestmark = [pytest.mark.stack, pytest.mark.e2e, pytest.mark.own_warehouse]

CORPUS_FILE = Path(__file__).resolve().parents[1] / "sql_corpus" / "queries.yml"
CORPUS: list[dict[str, str]] = yaml.safe_load(CORPUS_FILE.read_text())
DAYS = 2  # one run per day, so the tables have versions to travel to and a history of several commits


@dataclasses.dataclass
class Answer:
    """One engine's answer: column names, Trino type names and rows as Python values."""

    names: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]


@pytest.fixture(scope="module")
def corpus_settings(spark, stack_settings):
    """Return settings of a warehouse of its own on the test stack, taken day by day through the Spark layers.

    delta-rs writes it, the embedded deployment's writer, in a fraction of delta-spark's time: the corpus is about
    the two readers. That both read delta-spark's tables alike is checked in test_stack_pipeline.py.
    """
    settings = dataclasses.replace(stack_settings, warehouse="s3://lakehouse-test/sql-corpus", delta_engine="delta-rs")
    use_s3(spark, settings)
    warehouse = Warehouse(settings)
    for _ in range(DAYS):
        generate(warehouse, 1, progress=False, **SHOP_SCALE)
        results = runner.run(RunContext(Tables(warehouse, spark)), SPARK_LAYERS)
        assert all(r.status in ("ok", "skipped") for r in results), [(r.step, r.error) for r in results]
    return settings


@pytest.fixture(scope="module")
def trino_connection(corpus_settings):
    import trino

    url = urlsplit(corpus_settings.trino_url)
    connection = trino.dbapi.connect(host=url.hostname, port=url.port, user="lakehouse", catalog=CATALOG)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def embedded(corpus_settings):
    return SqlEngine(Warehouse(corpus_settings))


def ask_trino(connection, sql: str) -> Answer:
    cursor = connection.cursor()
    try:
        cursor.execute(sql)
        rows = [tuple(row) for row in cursor.fetchall()]
        description = cursor.description or []
    finally:
        cursor.close()
    return Answer([d[0] for d in description], [d[1] for d in description], rows)


def ask_embedded(engine: SqlEngine, sql: str) -> Answer:
    result = engine.query(sql)
    columns = [column.to_pylist() for column in result.table.columns]
    return Answer(list(result.table.column_names), list(result.types), list(zip(*columns, strict=True)))


def type_name(name: str) -> str:
    """Return a Trino type name without the blanks the client puts after commas (`decimal(12, 2)`)."""
    return re.sub(r",\s+", ",", name.strip().lower())


def canonical(value: Any, kind: str) -> Any:
    """Return `value` of Trino type `kind` in a form both engines' values share (floats to 12 significant digits)."""
    if value is None:
        return None
    if kind.startswith("map("):
        key_kind, value_kind = _split_arguments(kind[4:-1])
        pairs = value.items() if isinstance(value, dict) else value  # Arrow gives a map as (key, value) pairs
        return tuple(sorted((canonical(k, key_kind), canonical(v, value_kind)) for k, v in pairs))
    if kind.startswith("array("):
        return tuple(canonical(v, kind[6:-1]) for v in value)
    if kind.startswith("row("):
        fields = [f.rsplit(" ", 1)[-1] if " " in f else f for f in _split_arguments(kind[4:-1])]
        items = list(value.values()) if isinstance(value, dict) else list(value)
        return tuple(canonical(v, k) for v, k in zip(items, fields, strict=True))
    if isinstance(value, float) and kind == "real":  # Trino's client gives a real as the shortest text of a float
        value = struct.unpack("f", struct.pack("f", value))[0]
        return float(f"{value:.7g}") if math.isfinite(value) else repr(value)
    if isinstance(value, float):
        return float(f"{value:.12g}") if math.isfinite(value) else repr(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return (value.astimezone(dt.UTC), value.utcoffset())
    if isinstance(value, Decimal):
        return value.normalize() if value == value else repr(value)
    return value


def _split_arguments(text: str) -> list[str]:
    """Split `a, map(b, c), d` at its top-level commas."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def is_ordered(sql: str) -> bool:
    """Return whether the answer's row order is part of it: an outer ORDER BY, or a SHOW / DESCRIBE command."""
    text = re.sub(r"--[^\n]*", "", sql).strip().lower()
    if re.match(r"(show|describe|desc)\b", text):
        return True
    import sqlglot

    statement = sqlglot.parse_one(sql, read="trino")
    return statement.args.get("order") is not None


def difference(name: str, sql: str, on_trino: Answer, embedded: Answer) -> str | None:
    """Return None when both answers are equal, else the query's name and the first difference."""
    if embedded.names != on_trino.names:
        return f"{name}: columns {embedded.names} embedded, {on_trino.names} on Trino"
    for column, mine, theirs in zip(on_trino.names, embedded.types, on_trino.types, strict=True):
        if type_name(mine) != type_name(theirs):
            return f"{name}: column {column!r} is {mine} embedded, {theirs} on Trino"
    kinds = [type_name(t) for t in on_trino.types]

    def rows_of(answer: Answer) -> list[tuple[Any, ...]]:
        return [tuple(canonical(v, k) for v, k in zip(row, kinds, strict=True)) for row in answer.rows]

    mine, theirs = rows_of(embedded), rows_of(on_trino)
    ordered = is_ordered(sql)
    if not ordered:
        mine, theirs = sorted(mine, key=repr), sorted(theirs, key=repr)
    if mine == theirs:
        return None
    counts = f"{len(mine)} rows" if len(mine) == len(theirs) else f"{len(mine)} rows embedded, {len(theirs)} on Trino"
    for index, (a, b) in enumerate(zip(mine, theirs, strict=False)):
        if a != b:
            column = next(c for c, x, y in zip(on_trino.names, a, b, strict=True) if x != y)
            where = f"row {index + 1}" if ordered else f"row {index + 1} of the sorted rows"
            return f"{name}: {counts}; {where}, column {column!r}: {a} embedded, {b} on Trino"
    shorter = "embedded" if len(mine) < len(theirs) else "Trino"
    extra = (theirs if len(mine) < len(theirs) else mine)[min(len(mine), len(theirs))]
    return f"{name}: {counts}; {shorter} lacks the row {extra}"


@pytest.mark.parametrize("entry", CORPUS, ids=[entry["name"] for entry in CORPUS])
def test_the_embedded_engine_answers_as_trino_does(entry, trino_connection, embedded):
    on_trino = ask_trino(trino_connection, entry["sql"])  # every corpus query is valid Trino SQL
    if "refused" in entry:
        with pytest.raises(UserError) as refusal:
            embedded.query(entry["sql"])
        message = str(refusal.value)
        assert entry["refused"] in message and "\n" not in message, message
        return
    assert on_trino.names, entry["name"]
    found = difference(entry["name"], entry["sql"], on_trino, ask_embedded(embedded, entry["sql"]))
    assert found is None, found


def test_the_corpus_is_large_and_its_names_unique():
    names = [entry["name"] for entry in CORPUS]
    assert len(names) >= 40 and len(set(names)) == len(names)
    assert all(set(entry) <= {"name", "sql", "refused"} for entry in CORPUS)

"""The embedded SQL engine: Trino SQL over Delta tables on DuckDB (no Spark involved)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakehouse.errors import UserError
from lakehouse.settings import Settings
from lakehouse.sql import SqlEngine
from lakehouse.warehouse import Warehouse


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("sqlwh")
    warehouse = Warehouse(Settings(warehouse=str(root)))
    orders = pa.table(
        {
            "order_id": ["O1", "O2", "O3"],
            "net_amount": pa.array([Decimal("10.50"), Decimal("20.00"), Decimal("30.25")], pa.decimal128(12, 2)),
            "order_ts": pa.array(
                [
                    datetime(2026, 1, 1, 10, tzinfo=UTC),
                    datetime(2026, 1, 2, 9, tzinfo=UTC),
                    datetime(2026, 1, 2, 12, tzinfo=UTC),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )
    write_deltalake(warehouse.table_uri("silver.orders"), orders)
    return SqlEngine(warehouse)


def test_trino_sql_runs_on_the_delta_tables(engine):
    result = engine.query(
        "select date_trunc('day', order_ts) as day, count(*) as n, sum(net_amount) as revenue "
        "from lakehouse.silver.orders group by 1 order by 1"
    )
    rows = result.table.to_pylist()
    assert [(r["n"], r["revenue"]) for r in rows] == [(1, Decimal("10.50")), (2, Decimal("50.25"))]


def test_trino_functions_are_translated(engine):
    rows = engine.query(
        "select format('%s!', order_id) as f, approx_distinct(order_id) over () as d from silver.orders "
        "where order_id = 'O1'"
    ).table.to_pylist()
    assert rows == [{"f": "O1!", "d": 1}]  # the window sees the rows the where clause kept


def test_ctes_are_not_mistaken_for_tables(engine):
    rows = engine.query("with big as (select * from silver.orders where net_amount > 15) select count(*) n from big")
    assert rows.table.to_pylist() == [{"n": 2}]
    nested = engine.query(
        "with big as (select * from silver.orders where net_amount > 15) select count(*) n from (select * from big)"
    )
    assert nested.table.to_pylist() == [{"n": 2}]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select * from silver.nope", "unknown table silver.nope: tables in silver are silver.orders"),
        ("select * from orders", "name tables with their schema, e.g. silver.orders"),
        ("select * from marts.orders", "unknown table 'marts.orders'"),
        ("selec 1", "SQL syntax error"),
        ("delete from silver.orders", "only queries are allowed"),
        ("select 1; select 2", "exactly one SQL statement"),
        ("select no_such_column from silver.orders", "query failed"),
    ],
)
def test_mistakes_get_a_clear_message(engine, sql, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        engine.query(sql)


# -- Trino's answers, embedded --------------------------------------------------------------------------------------
# The stack's test (tests/stack/test_sql_corpus.py) holds the embedded engine to the real Trino over a corpus of
# queries; these check the same behaviour without a stack.


@pytest.fixture(scope="module")
def versioned(engine):
    """Add a table with two versions (ops.run_audit) to the engine's warehouse; return the engine."""
    uri = engine.warehouse.table_uri("ops.run_audit")
    write_deltalake(uri, pa.table({"step": ["a"], "rows_out": pa.array([1], pa.int64())}))
    write_deltalake(uri, pa.table({"step": ["b"], "rows_out": pa.array([2], pa.int64())}), mode="append")
    return engine


def _answer(engine, sql):
    result = engine.query(sql)
    return result.table.to_pylist(), result.types


def test_columns_have_trino_types_and_values(engine):
    rows, types = _answer(
        engine,
        "select count(*) as n, sum(net_amount) as total, avg(net_amount) as mean, 7 / 2 as half, "
        "sum(net_amount) / 7 as seventh, 'abc' as label, min(order_ts) as first from silver.orders",
    )
    assert types == [
        "bigint",
        "decimal(38,2)",
        "decimal(12,2)",
        "integer",
        "decimal(38,2)",
        "varchar(3)",
        "timestamp(3) with time zone",
    ]
    # integer division truncates; decimal division rounds half up to the scale, as on Trino
    assert rows == [
        {
            "n": 3,
            "total": Decimal("60.75"),
            "mean": Decimal("20.25"),
            "half": 3,
            "seventh": Decimal("8.68"),
            "label": "abc",
            "first": datetime(2026, 1, 1, 10, tzinfo=UTC),
        }
    ]


def test_date_diff_counts_whole_units_as_trino_does(engine):
    rows, types = _answer(
        engine,
        "select date_diff('day', a.order_ts, b.order_ts) as days, date_diff('hour', a.order_ts, b.order_ts) as hours "
        "from silver.orders as a, silver.orders as b where a.order_id = 'O1' and b.order_id = 'O2'",
    )
    assert (rows, types) == ([{"days": 0, "hours": 23}], ["bigint", "bigint"])  # DuckDB's date_diff says 1 day


def test_at_time_zone_keeps_the_instant_and_shows_the_zone(engine):
    rows, types = _answer(
        engine,
        "select order_ts at time zone 'Europe/Berlin' as berlin, hour(order_ts at time zone 'Europe/Berlin') as h, "
        "format_datetime(order_ts at time zone 'Europe/Berlin', 'EEE d MMM yyyy HH:mm') as shown "
        "from silver.orders where order_id = 'O1'",
    )
    assert types == ["timestamp(3) with time zone", "bigint", "varchar"]
    assert (rows[0]["h"], rows[0]["shown"]) == (11, "Thu 1 Jan 2026 11:00")
    assert rows[0]["berlin"] == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert rows[0]["berlin"].utcoffset().total_seconds() == 3600


def test_json_functions_give_trino_s_text(engine):
    rows, types = _answer(
        engine,
        'select json_format(json_parse(\'{"b": 1.50, "a": [1, 1e10]}\')) as canonical, '
        "json_extract_scalar('{\"a\": 1.50}', '$.a') as scalar, json_extract('{\"a\": {\"d\": 2.50}}', '$.a') as part",
    )
    assert rows == [{"canonical": '{"a":[1,1.0E10],"b":1.5}', "scalar": "1.50", "part": '{"d":2.5}'}]
    assert types == ["varchar", "varchar(11)", "json"]  # json_extract_scalar keeps its argument's type


def test_catalog_commands_answer_from_the_warehouse(versioned):
    assert versioned.query("show tables from silver").table.to_pylist() == [{"Table": "orders"}]
    schemas = [r["Schema"] for r in versioned.query("SHOW SCHEMAS").table.to_pylist()]
    assert {"bronze", "silver", "gold", "ops", "information_schema"} <= set(schemas) and schemas == sorted(schemas)
    described = versioned.query("DESCRIBE lakehouse.silver.orders")
    assert described.table.column_names == ["Column", "Type", "Extra", "Comment"]
    assert [(r["Column"], r["Type"]) for r in described.table.to_pylist()] == [
        ("order_id", "varchar"),
        ("net_amount", "decimal(12,2)"),
        ("order_ts", "timestamp(3) with time zone"),
    ]
    rows, _ = _answer(
        versioned,
        "select table_name, data_type from information_schema.columns "
        "where table_schema = 'ops' order by ordinal_position",
    )
    assert rows == [
        {"table_name": "run_audit", "data_type": "varchar"},
        {"table_name": "run_audit", "data_type": "bigint"},
    ]


def test_time_travel_and_the_delta_log_tables(versioned):
    assert versioned.query("select count(*) as n from ops.run_audit").table.to_pylist() == [{"n": 2}]
    old = versioned.query("select step from ops.run_audit for version as of 0").table.to_pylist()
    assert old == [{"step": "a"}]
    now = versioned.query("select count(*) as n from ops.run_audit for timestamp as of current_timestamp")
    assert now.table.to_pylist() == [{"n": 2}]
    history = versioned.query('select version, operation, read_version from ops."run_audit$history" order by 1')
    assert [r["version"] for r in history.table.to_pylist()] == [0, 1]
    assert history.types == ["bigint", "varchar", "bigint"]
    properties = versioned.query('select key, value from ops."run_audit$properties"').table.to_pylist()
    assert {"key": "delta.minReaderVersion", "value": "1"} in properties
    with pytest.raises(UserError, match="has no version 5"):
        versioned.query("select * from ops.run_audit for version as of 5")


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("explain select 1", "EXPLAIN"),
        ("show stats for silver.orders", "SHOW STATS"),
        ("select approx_percentile(net_amount, 0.5) from silver.orders", "approx_percentile"),
        ("select approx_distinct(x) from unnest(sequence(1, 300)) as t(x)", "approx_distinct"),
        ("select reduce(array[1, 2], 0, (s, x) -> s + x, s -> s)", "reduce"),
        ("select cast(order_id as timestamp with time zone) from silver.orders", "CAST of varchar"),
        ('select * from silver."orders$files"', "$history and $properties"),
        ("select * from system.runtime.nodes", "unknown catalog system"),
        ("select format_datetime(order_ts, 'yyyy Z') from silver.orders", "format_datetime"),
    ],
)
def test_what_trino_answers_differently_is_refused_by_name(engine, sql, construct):
    with pytest.raises(UserError) as refusal:
        engine.query(sql)
    assert construct in str(refusal.value) and "\n" not in str(refusal.value)


def test_approx_distinct_is_exact_where_trino_s_estimate_is(engine):
    rows = engine.query("select approx_distinct(x) as n from unnest(sequence(1, 150)) as t(x)").table.to_pylist()
    assert rows == [{"n": 150}]

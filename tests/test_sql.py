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

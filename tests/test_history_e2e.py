"""A shop with a past taken through every layer: the past's batch adds up, keeps its real times, and makes cohorts."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pyarrow.parquet as pq
import pytest

from tests.accounting import check_bronze, check_silver
from tests.conftest import PAST_SHOP_DAYS

pytestmark = pytest.mark.e2e

BATCH_DAY = date(2025, 12, 31)


def test_the_past_is_one_batch_and_every_record_is_accounted_for(past_shop):
    warehouse, tables = past_shop
    assert warehouse.landing_days("orders")[0] == BATCH_DAY
    check_bronze(warehouse, tables)
    check_silver(warehouse, tables)
    # The past's orders all came with its one landing day; the days after it brought orders of their own.
    days = {r[0] for r in tables.read("bronze.orders").select("_batch_date").distinct().collect()}
    assert min(days) == BATCH_DAY and len(days) == PAST_SHOP_DAYS + 1, days


def test_the_cohort_dataset_has_a_cohort_per_month_of_the_past_and_the_current_one(past_shop):
    from lakehouse.bi import engine, semantic

    warehouse, _ = past_shop
    dataset = semantic.load_layer().datasets["cohort_retention"]
    cohort = dataset.columns["cohort"].expression
    size = dataset.metrics["cohort_customers"].expression
    con = engine.connect_views(warehouse)
    try:
        rows = con.sql(f"select {cohort} as cohort, {size} as n from {dataset.from_clause()} group by 1 order by 1")
        cohorts = rows.fetchall()
        first_day = con.sql("select min(date_day) from gold.dim_date").fetchone()[0]
    finally:
        con.close()
    assert [c for c, _ in cohorts] == [f"2025-{m:02d}" for m in range(1, 13)] + ["2026-01"]
    assert all(n > 0 for _, n in cohorts)
    # The calendar starts with the past's opening stock, before its first order.
    assert first_day == date(2025, 1, 1)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_versions_from_the_past_keep_their_real_effective_times(past_shop):
    from lakehouse import dbt

    warehouse, _ = past_shop
    data = warehouse.read_bytes(warehouse.generator_dir("truth", "customer_versions", f"{BATCH_DAY:%Y%m%d}.parquet"))
    truth = {r["customer_id"]: r["updated_at"] for r in pq.read_table(io.BytesIO(data)).to_pylist()}
    con = dbt.connect(warehouse)
    try:
        snapshot = con.sql("select customer_id, updated_at, dbt_valid_from from snapshots.snap_customers").fetchall()
        dimension = con.sql("select customer_id, valid_from from gold.dim_customers").fetchall()
    finally:
        con.close()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    from_the_past = [(c, _utc(v)) for c, u, v in snapshot if _utc(u) < start]
    assert len(from_the_past) > len(truth) // 2  # most customers did not change in the first days
    assert all(valid_from == truth[c] for c, valid_from in from_the_past)
    first_versions = {}
    for customer, valid_from in dimension:
        first_versions[customer] = min(first_versions.get(customer, _utc(valid_from)), _utc(valid_from))
    assert {c: first_versions[c] for c in truth} == truth

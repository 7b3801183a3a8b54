"""Options, continuation and the mistakes a user can make."""

from __future__ import annotations

import json
from datetime import date

import pytest

from generator import generate, generated_days
from lakehouse.errors import UserError
from tests.generator.conftest import make_warehouse

TINY = {"customers": 20, "products": 10, "events_per_day": 200}


def test_first_run_stores_options_and_later_runs_continue(tmp_path):
    warehouse = make_warehouse(tmp_path)
    first = generate(warehouse, 2, seed=7, start_date=date(2026, 3, 30), progress=False, **TINY)
    second = generate(warehouse, 2, progress=False)

    assert first.first_run and not second.first_run
    assert first.days == (date(2026, 3, 30), date(2026, 3, 31))
    assert second.days == (date(2026, 4, 1), date(2026, 4, 2))
    assert second.options == first.options
    assert generated_days(warehouse) == [*first.days, *second.days]
    state = json.loads(warehouse.read_bytes(warehouse.generator_dir("state.json")))
    assert state["options"]["seed"] == 7 and state["last_day"] == "2026-04-02"


def test_defaults_on_an_empty_warehouse(tmp_path):
    result = generate(make_warehouse(tmp_path), 1, progress=False, **TINY)
    assert result.options.seed == 42
    assert result.options.start_date == date(2026, 1, 1)
    assert result.options.dirty_rate == 0.005
    assert result.days == (date(2026, 1, 1),)


def test_result_counts_what_the_files_hold(tmp_path):
    warehouse = make_warehouse(tmp_path)
    result = generate(warehouse, 1, progress=False, **TINY)
    for uri in result.files:
        entity = uri.rsplit("/", 3)[-3]
        lines = warehouse.read_bytes(uri).decode().splitlines()
        header = 1 if uri.endswith(".csv") else 0
        assert len(lines) - header == result.rows[entity]
    assert result.seconds > 0 and result.rows_per_second > 0


def test_rate_and_volume_may_change_on_a_later_run(tmp_path):
    warehouse = make_warehouse(tmp_path)
    generate(warehouse, 1, progress=False, **TINY)
    result = generate(warehouse, 1, events_per_day=400, dirty_rate=0.0, progress=False)
    assert result.options.events_per_day == 400 and result.options.dirty_rate == 0.0
    assert generate(warehouse, 1, progress=False).options.events_per_day == 400


@pytest.mark.parametrize(
    "option",
    [{"seed": 8}, {"start_date": date(2026, 2, 1)}, {"customers": 21}, {"products": 11}],
)
def test_a_fixed_option_that_differs_from_the_first_run_is_refused(tmp_path, option):
    warehouse = make_warehouse(tmp_path)
    generate(warehouse, 1, progress=False, **TINY)
    with pytest.raises(UserError, match="this warehouse was generated with"):
        generate(warehouse, 1, progress=False, **option)
    assert generated_days(warehouse) == [date(2026, 1, 1)]


def test_repeating_the_stored_options_is_fine(tmp_path):
    warehouse = make_warehouse(tmp_path)
    generate(warehouse, 1, seed=42, progress=False, **TINY)
    result = generate(warehouse, 1, seed=42, start_date="2026-01-01", progress=False, **TINY)
    assert result.days == (date(2026, 1, 2),)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"days": 0}, "--days"),
        ({"days": -3}, "--days"),
        ({"days": 1, "dirty_rate": 1.5}, "--dirty-rate"),
        ({"days": 1, "dirty_rate": -0.1}, "--dirty-rate"),
        ({"days": 1, "start_date": "2026-13-01"}, "YYYY-MM-DD"),
        ({"days": 1, "start_date": "yesterday"}, "YYYY-MM-DD"),
        ({"days": 1, "customers": 0}, "--customers"),
        ({"days": 1, "products": 3}, "--products"),
        ({"days": 1, "events_per_day": -1}, "--events-per-day"),
        ({"days": 1, "seed": -1}, "--seed"),
    ],
)
def test_bad_input_is_a_user_error(tmp_path, arguments, message):
    warehouse = make_warehouse(tmp_path)
    with pytest.raises(UserError, match=message):
        generate(warehouse, progress=False, **arguments)
    assert not warehouse.exists(warehouse.uri("landing"))


def test_landing_data_without_generator_state_is_refused(tmp_path):
    warehouse = make_warehouse(tmp_path)
    warehouse.write_bytes(warehouse.landing_file("events", date(2026, 1, 1), "jsonl"), b"{}\n")
    with pytest.raises(UserError, match="no generator state"):
        generate(warehouse, 1, progress=False)


def test_generated_days_is_empty_before_the_first_run(tmp_path):
    assert generated_days(make_warehouse(tmp_path)) == []

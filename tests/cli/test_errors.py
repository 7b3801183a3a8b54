"""User mistakes at the command line: one line, non-zero exit, no traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from lakehouse.cli import cli


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", str(tmp_path / "nowhere"))

    def invoke(*args):
        return CliRunner().invoke(cli, list(args))

    return invoke


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sql", "select 1"), "no warehouse at"),
        (("status",), "no warehouse at"),
        (("run",), "no landing data in"),
        (("generate", "--days", "0"), "--days must be at least 1"),
        (("generate", "--start-date", "2026-13-01"), "is not a date"),
        (("generate", "--history-months", "61"), "--history-months must be between 0 and 60"),
        (("bench", "--dbt-history"), "--dbt-history measures both targets: give --stack with it"),
    ],
)
def test_mistakes_print_one_line_and_fail(run, args, message):
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) <= 3


def test_bad_environment_is_reported_by_name(run, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_ENV", "cloud")
    result = run("status")
    assert result.exit_code == 1
    assert "LAKEHOUSE_ENV='cloud' is not one of embedded, stack" in result.output


def test_generate_then_status_and_sql(run, tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", str(tmp_path / "wh"))
    made = run("generate", "--days", "1", "--customers", "50", "--products", "10", "--events-per-day", "200")
    assert made.exit_code == 0, made.output
    assert "records in" in made.output
    again = run("generate", "--days", "1", "--if-empty")
    assert "already holds 1 days" in again.output
    status = run("status")
    assert status.exit_code == 0 and "No runs yet" in status.output
    missing = run("sql", "select * from silver.orders")
    assert missing.exit_code == 1 and "unknown table silver.orders" in missing.output


def test_a_shop_with_a_past_is_started_once_and_then_continued(run, tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", str(tmp_path / "wh"))
    scale = ("--customers", "50", "--products", "10", "--events-per-day", "200")
    made = run("generate", "--days", "1", "--history-months", "2", *scale)
    assert made.exit_code == 0, made.output
    assert "Generated 2025-12-31 … 2026-01-01" in made.output
    again = run("generate", "--days", "1", "--history-months", "2", "--if-empty")
    assert "already holds 2 days (2025-12-31 … 2026-01-01)" in again.output
    more = run("generate", "--days", "1")
    assert more.exit_code == 0 and "Generated 2026-01-02 … 2026-01-02" in more.output
    other = run("generate", "--days", "1", "--history-months", "3")
    assert other.exit_code == 1 and "was generated with --history-months 2" in other.output

"""The local stack's S3 keys: made once into .env, read back from it, never half a pair. No servers."""

from __future__ import annotations

import os

import pytest

from lakehouse import stack
from lakehouse.errors import UserError


@pytest.fixture
def no_keys(monkeypatch):
    """No S3 keys in the environment; what ensure_keys puts there is undone after the test."""
    for name in stack.KEY_VARIABLES:
        monkeypatch.setenv(name, "")  # recorded first, so the test's own keys go when it ends
        monkeypatch.delenv(name)


def _keys(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line.startswith("AWS_"))
    return dict(pairs)


def test_keys_are_made_once_into_env_file_and_read_back_from_it(no_keys, tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("LAKEHOUSE_ENV=stack")
    assert stack.ensure_keys(env_file) is True
    made = _keys(env_file.read_text())
    assert set(made) == set(stack.KEY_VARIABLES) and all(made.values())
    assert env_file.read_text().startswith("LAKEHOUSE_ENV=stack\n")
    assert env_file.stat().st_mode & 0o777 == 0o600
    # A later process has the file but not yet its keys in the environment: it reads them, it makes none.
    for name in stack.KEY_VARIABLES:
        monkeypatch.delenv(name)
    assert stack.ensure_keys(env_file) is False
    assert _keys(env_file.read_text()) == made
    assert {name: os.environ[name] for name in stack.KEY_VARIABLES} == made


def test_the_environments_keys_win_and_the_file_is_left_alone(no_keys, tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mine")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "my-secret")
    assert stack.ensure_keys(env_file) is False
    assert not env_file.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("AWS_ACCESS_KEY_ID=abc\n", "sets AWS_ACCESS_KEY_ID but no value for AWS_SECRET_ACCESS_KEY"),
        ("AWS_ACCESS_KEY_ID=abc\nAWS_SECRET_ACCESS_KEY=\n", "no value for AWS_SECRET_ACCESS_KEY"),
    ],
)
def test_half_a_pair_in_the_file_is_refused_without_showing_a_value(no_keys, tmp_path, text, message):
    env_file = tmp_path / ".env"
    env_file.write_text(text)
    with pytest.raises(UserError, match=message) as refused:
        stack.ensure_keys(env_file)
    assert "abc" not in str(refused.value)
    assert env_file.read_text() == text


def test_half_a_pair_in_the_environment_is_refused(no_keys, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cret")
    with pytest.raises(UserError, match="the environment sets AWS_SECRET_ACCESS_KEY but not the other") as refused:
        stack.ensure_keys(tmp_path / ".env")
    assert "s3cret" not in str(refused.value)
    assert not (tmp_path / ".env").exists()

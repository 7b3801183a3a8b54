"""Which database Superset's datasets live in: DuckDB's views file embedded, Trino as `superset` in the stack."""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

import pytest
import yaml

from lakehouse.bi import bundle, semantic, server
from lakehouse.settings import Settings
from lakehouse.warehouse import Warehouse


def _stack(tmp_path: Path, trino_url: str) -> Warehouse:
    settings = Settings(
        deployment="stack", warehouse="s3://shop/warehouse", trino_url=trino_url, stack_dir=str(tmp_path / "stack")
    )
    return Warehouse(settings)


@pytest.fixture(autouse=True)
def _no_configured_uri(monkeypatch):
    monkeypatch.delenv("LAKEHOUSE_SUPERSET_DATABASE_URI", raising=False)


def test_embedded_superset_reads_the_views_file_under_the_warehouse(tmp_path):
    warehouse = Warehouse(Settings(warehouse=str(tmp_path)))
    connection = server.connection(warehouse)
    assert connection.sqlalchemy_uri == f"duckdb:///{tmp_path.resolve()}/_lakehouse/superset/lakehouse.duckdb"
    assert connection.engine_params["connect_args"]["read_only"] is True
    assert not server.on_trino(warehouse)


def test_in_the_stack_superset_reads_the_configured_trino_as_superset(tmp_path):
    warehouse = _stack(tmp_path, "http://127.0.0.1:48080")
    connection = server.connection(warehouse)
    assert connection.sqlalchemy_uri == "trino://superset@127.0.0.1:48080/lakehouse"
    assert connection.engine_params == {"connect_args": {"http_scheme": "http"}}
    assert connection.password is None
    assert server.on_trino(warehouse)
    # Superset keeps its state in the stack's directory: there is no folder of its own on S3.
    assert warehouse.tool_dir("superset") == (tmp_path / "stack" / "superset" / "shop_warehouse").resolve()


def test_over_https_the_password_goes_to_the_import_and_never_into_the_bundle(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_TRINO_PASSWORD_SUPERSET", "s3cret-of-superset")
    monkeypatch.setenv("LAKEHOUSE_TRINO_CA", str(tmp_path / "ca.crt"))
    warehouse = _stack(tmp_path, "https://localhost:8443")
    connection = server.connection(warehouse)
    assert connection.sqlalchemy_uri == f"trino://superset:{server.PASSWORD_MASK}@localhost:8443/lakehouse"
    assert connection.engine_params == {"connect_args": {"http_scheme": "https", "verify": str(tmp_path / "ca.crt")}}
    assert connection.password == "s3cret-of-superset"
    data = bundle.write_bundle(semantic.load_layer(), connection)
    assert b"s3cret-of-superset" not in data
    with zipfile.ZipFile(BytesIO(data)) as archive:
        database = yaml.safe_load(archive.read(f"lakehouse_assets/databases/{bundle.DATABASE_NAME}.yaml"))
    assert database["sqlalchemy_uri"] == connection.sqlalchemy_uri

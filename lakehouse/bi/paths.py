"""Where Superset's state lives for a warehouse, and the one thing the pipeline does to it: drop cached chart data."""

from __future__ import annotations

from pathlib import Path

from lakehouse.errors import UserError
from lakehouse.warehouse import Warehouse


def superset_home(warehouse: Warehouse) -> Path:
    """Return the folder holding Superset's state for this warehouse (metadata database, views file, cache, logs)."""
    if warehouse.is_s3:
        raise UserError("embedded Superset needs a local warehouse; with an s3:// warehouse use the stack's Trino")
    return Path(warehouse.root).resolve() / "_lakehouse" / "superset"


def chart_cache(warehouse: Warehouse) -> Path:
    return superset_home(warehouse) / "chart-cache"


def clear_chart_cache(warehouse: Warehouse) -> None:
    """Forget every cached chart result: called when a run has written, so dashboards show the new data.

    The files go, the folder stays: Superset's file cache makes its folder only when it starts."""
    if warehouse.is_s3:
        return
    folder = chart_cache(warehouse)
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.is_file():
                entry.unlink(missing_ok=True)

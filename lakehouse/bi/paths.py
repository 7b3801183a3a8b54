"""Where Superset's state lives for a warehouse, and the one thing the pipeline does to it: drop cached chart data."""

from __future__ import annotations

import re
from pathlib import Path

from lakehouse.warehouse import Warehouse


def superset_home(warehouse: Warehouse) -> Path:
    """Return the folder holding Superset's state for this warehouse (metadata database, views file, cache, logs):
    in the warehouse's `_lakehouse/superset/` for a local warehouse; for one on S3, where Superset cannot keep files,
    in the stack's state directory under the warehouse's name."""
    if warehouse.is_s3:
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", warehouse.root.removeprefix("s3://")).strip("_")
        return Path(warehouse.settings.stack_dir).resolve() / "superset" / name
    return Path(warehouse.root).resolve() / "_lakehouse" / "superset"


def chart_cache(warehouse: Warehouse) -> Path:
    return superset_home(warehouse) / "chart-cache"


def clear_chart_cache(warehouse: Warehouse) -> None:
    """Forget every cached chart result: called when a run has written, so dashboards show the new data.

    The files go, the folder stays: Superset's file cache makes its folder only when it starts."""
    folder = chart_cache(warehouse)
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.is_file():
                entry.unlink(missing_ok=True)

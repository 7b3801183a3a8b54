"""Small generated shops shared by the generator tests (generating one takes well under a second)."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator import generate
from lakehouse.settings import Settings
from lakehouse.warehouse import Warehouse

SMALL = {"customers": 200, "products": 50, "events_per_day": 2000}


def make_warehouse(path: Path) -> Warehouse:
    """Return a warehouse rooted at a test directory."""
    return Warehouse(Settings(warehouse=str(path)))


@pytest.fixture(scope="session")
def clean_shop(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Three days of a small shop without dirty data."""
    warehouse = make_warehouse(tmp_path_factory.mktemp("clean"))
    generate(warehouse, 3, dirty_rate=0.0, progress=False, **SMALL)
    return warehouse


@pytest.fixture(scope="session")
def dirty_shop(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Four days of a small shop with a dirty rate high enough to see every fault kind."""
    warehouse = make_warehouse(tmp_path_factory.mktemp("dirty"))
    generate(warehouse, 4, dirty_rate=0.08, progress=False, **SMALL)
    return warehouse

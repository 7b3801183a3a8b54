"""DuckDB extensions from their PyPI packages: this machine cannot `INSTALL` them from the network.

Both DuckDB users of the lakehouse, the embedded SQL engine and dbt-duckdb, load extensions from one directory laid
out the way DuckDB looks for them (`<dir>/<version>/<platform>/<name>.duckdb_extension`).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TypeAlias

import duckdb

from lakehouse.errors import UserError

# A DuckDB connection's configuration, as `duckdb.connect(config=...)` takes it.
Config: TypeAlias = dict[str, str | bool | int | float | list[str]]


@cache
def extension_directory(names: tuple[str, ...] = ("delta",)) -> Path:
    """Return a DuckDB extension directory holding `names` from their PyPI packages (laid out once per process)."""
    root = Path(os.environ.get("LAKEHOUSE_CACHE") or Path.home() / ".cache" / "lakehouse") / "duckdb"
    probe = duckdb.connect()
    version = probe.sql("pragma version").fetchone()[0]  # type: ignore[index]  # a pragma always returns a row
    platform = probe.sql("pragma platform").fetchone()[0]  # type: ignore[index]  # a pragma always returns a row
    probe.close()
    target = root / version / platform
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        try:
            module = importlib.import_module(f"duckdb_extension_{name}")
        except ImportError:
            raise UserError(f"the DuckDB {name} extension is not installed: add duckdb-extension-{name}") from None
        assert module.__file__ is not None, f"{module.__name__} is not a regular package"
        source = Path(module.__file__).parent / "extensions" / version / f"{name}.duckdb_extension"
        if not source.is_file():
            raise UserError(f"the DuckDB {name} extension for DuckDB {version} is not installed: run `make setup`")
        link = target / source.name
        if not (link.is_symlink() and link.readlink() == source):
            # The cache is shared: a link another checkout made may point into its environment, gone since (a
            # removed worktree); this process's own takes its place, atomically, as processes may race here.
            fresh = link.with_name(f".{link.name}.{os.getpid()}")
            fresh.unlink(missing_ok=True)
            fresh.symlink_to(source)
            fresh.replace(link)
    return root


def config(names: tuple[str, ...] = ("delta",)) -> Config:
    """Return the DuckDB configuration that finds `names` offline and never downloads anything."""
    return {"extension_directory": str(extension_directory(names)), "autoinstall_known_extensions": False}


def load(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> None:
    for name in names:
        con.execute(f"load {name}")

"""DuckDB's extensions come from their PyPI packages through links in a cache shared by every checkout."""

from __future__ import annotations

import duckdb

from lakehouse import duckdb_extensions


def test_a_link_into_an_environment_that_is_gone_is_replaced_and_the_extension_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_CACHE", str(tmp_path))
    probe = duckdb.connect()
    version, platform = (probe.sql(f"pragma {p}").fetchone()[0] for p in ("version", "platform"))  # type: ignore[index]
    probe.close()
    folder = tmp_path / "duckdb" / version / platform
    folder.mkdir(parents=True)
    stale = folder / "delta.duckdb_extension"
    stale.symlink_to(tmp_path / "removed-worktree" / ".venv" / "delta.duckdb_extension")  # a dangling link

    root = duckdb_extensions.extension_directory.__wrapped__(("delta",))

    assert root == tmp_path / "duckdb" and stale.resolve().is_file(), stale.resolve()
    assert sorted(p.name for p in folder.iterdir()) == ["delta.duckdb_extension"]  # no temporary link left
    con = duckdb.connect(config={"extension_directory": str(root), "autoinstall_known_extensions": False})
    duckdb_extensions.load(con, ["delta"])
    assert con.sql("select count(*) from duckdb_extensions() where extension_name = 'delta' and loaded").fetchone() == (
        1,
    )

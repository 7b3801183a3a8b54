"""Runs the dbt project (dbt_project/) against the warehouse, on DuckDB by default.

Everything dbt writes goes under the warehouse: its DuckDB database, `target/` and logs in `_lakehouse/dbt/`.
DuckDB reads the Delta tables through its delta extension, which comes from a PyPI package (plain `INSTALL delta`
needs the network); this module lays the extension out where DuckDB looks for it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb

from lakehouse import duckdb_extensions, entities
from lakehouse.errors import PipelineError, UserError
from lakehouse.warehouse import Warehouse

PROJECT_DIR = Path(os.environ.get("LAKEHOUSE_DBT_PROJECT") or Path(__file__).resolve().parents[1] / "dbt_project")
EXTENSIONS = ("delta",)


@dataclass
class DbtResult:
    """What a dbt command did: nodes by status, and the failures with their messages."""

    command: str
    success: bool
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{n} {status}" for status, n in sorted(self.counts.items())]
        return f"dbt {self.command}: " + (", ".join(parts) or "done")


def gold_models() -> list[str]:
    """Return the project's gold models: every model in `models/marts/` (dbt_project.yml puts that folder in gold)."""
    return sorted(path.stem for path in (PROJECT_DIR / "models" / "marts").glob("*.sql"))


def gold_descriptions() -> dict[str, str]:
    """Return each gold model's description, on one line, from the marts' ymls (the data dictionary's source too)."""
    import yaml

    found = {}
    for path in sorted((PROJECT_DIR / "models" / "marts").glob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models") or []:
            found[model["name"]] = " ".join(str(model.get("description") or "").split())
    return found


def default_target(warehouse: Warehouse) -> str:
    """Return the dbt target of the warehouse's deployment: Trino in the stack, DuckDB embedded."""
    return "trino" if warehouse.settings.is_stack else "duckdb"


def environment(warehouse: Warehouse, target: str | None = None, since_batch: int = 0) -> dict[str, str]:
    """Return the environment dbt runs with: where the warehouse, its database, target and logs are, and the batch
    the incremental models were last built from (dbt_project/macros/incremental.sql; 0 rebuilds every key).

    The batch is an environment variable, not a `--vars` value: dbt parses the whole project again whenever its vars
    change, but re-parses only the files that read an environment variable when that changes."""
    target = target or default_target(warehouse)
    if warehouse.is_s3 and target == "duckdb":
        raise UserError(
            "the duckdb dbt target builds on a local warehouse; in the stack use LAKEHOUSE_DBT_TARGET=trino"
        )
    work = warehouse.tool_dir("dbt")
    work.mkdir(parents=True, exist_ok=True)
    values = {
        "LAKEHOUSE_WAREHOUSE": warehouse.root,
        "LAKEHOUSE_DBT_TARGET": target,
        "LAKEHOUSE_DBT_DATABASE": str(work / "lakehouse.duckdb"),
        "LAKEHOUSE_DUCKDB_EXTENSION_DIR": str(duckdb_extensions.extension_directory(EXTENSIONS)),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_PROJECT_DIR": str(PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "LAKEHOUSE_DBT_SINCE_BATCH": str(since_batch),
        # The feeds' accepted values and the order's lifecycle, from the one contract (dbt_project/macros/contract.sql).
        "LAKEHOUSE_CONTRACT": json.dumps(entities.dbt_contract(), sort_keys=True),
    }
    if target == "trino":  # the stack's Trino, as the pipeline's user (dbt_project/profiles.yml reads these)
        values |= _trino_login(warehouse)
    return values


def _trino_login(warehouse: Warehouse) -> dict[str, str]:
    """Return where dbt finds Trino and how it logs in: by name over plain HTTP (the local stack, on 127.0.0.1
    only), with the pipeline user's password and the CA of Trino's certificate over HTTPS (docker-compose)."""
    from lakehouse.trino import CA_VARIABLE, PIPELINE_USER, password_variable

    parts = urlsplit(warehouse.settings.trino_url)
    login = {
        "TRINO_HOST": parts.hostname or "127.0.0.1",
        "TRINO_PORT": str(parts.port or (443 if parts.scheme == "https" else 8080)),
        "TRINO_HTTP_SCHEME": parts.scheme or "http",
        "TRINO_USER": PIPELINE_USER,
    }
    if parts.scheme == "https":
        password, ca = os.environ.get(password_variable(PIPELINE_USER)), os.environ.get(CA_VARIABLE)
        if not password or not ca:
            raise UserError(
                f"Trino at {warehouse.settings.trino_url} takes passwords: set {password_variable(PIPELINE_USER)} and"
                f" {CA_VARIABLE} (`lakehouse stack init --compose` makes both)"
            )
        login |= {"LAKEHOUSE_DBT_TARGET": "trino_password", "TRINO_PASSWORD": password, "TRINO_CERT": ca}
    return login


def connect(warehouse: Warehouse) -> duckdb.DuckDBPyConnection:
    """Return a connection to dbt's DuckDB database, configured as dbt configures it (DuckDB requires the same
    configuration for every connection to one database file in a process)."""
    con = duckdb.connect(environment(warehouse)["LAKEHOUSE_DBT_DATABASE"], config=duckdb_extensions.config(EXTENSIONS))
    duckdb_extensions.load(con, EXTENSIONS)
    return con


@contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open for the life of the process.

    Left open, it holds the file's lock, and every other process's dbt step (a second `lakehouse run`) fails.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


def parse(warehouse: Warehouse, *, since_batch: int = 0) -> Any:
    """Parse the project (only what changed since the last parse, which dbt keeps in `target/`) and return the
    manifest, for `run` to share between commands: each command would otherwise parse the project again."""
    return _invoke(warehouse, ["parse"], since_batch=since_batch).result


def run(
    warehouse: Warehouse,
    args: Sequence[str],
    *,
    target: str | None = None,
    quiet: bool = True,
    since_batch: int = 0,
    manifest: Any = None,
) -> DbtResult:
    """Run `dbt ARGS` in this process against the warehouse and return what happened (a failure raises); with
    `manifest` (from `parse`, with the same since_batch), on the project as parsed there."""
    command = " ".join(args[:2]) if args[:1] == ["source"] else (args[0] if args else "build")
    outcome = _invoke(warehouse, args, target=target, quiet=quiet, since_batch=since_batch, manifest=manifest)
    result = DbtResult(command, bool(outcome.success))
    for node in getattr(outcome.result, "results", None) or []:
        if getattr(getattr(node, "node", None), "resource_type", None) == "operation":
            continue  # a hook of the project's (on-run-start), not a node of the command's
        status = str(getattr(node, "status", "unknown")).lower().split(".")[-1]
        result.counts[status] = result.counts.get(status, 0) + 1
        if status in ("error", "fail", "runtime error"):
            result.failures.append(_failure(node, status))
    if not result.success:
        detail = "; ".join(result.failures[:5]) or "see _lakehouse/dbt/logs/dbt.log"
        raise PipelineError(f"dbt {command} failed: {detail}")
    return result


def _invoke(
    warehouse: Warehouse,
    args: Sequence[str],
    *,
    target: str | None = None,
    quiet: bool = True,
    since_batch: int = 0,
    manifest: Any = None,
) -> Any:
    """Invoke dbt in this process with the warehouse's environment; return its outcome (raise if it could not run)."""
    from dbt.cli.main import dbtRunner

    flags = ["--quiet"] if quiet else []
    with _env(environment(warehouse, target, since_batch)):
        try:
            outcome = dbtRunner(manifest=manifest).invoke([*args, *flags, "--no-use-colors"])
        finally:
            if (target or default_target(warehouse)) == "duckdb":
                _release_duckdb()
    if outcome.exception is not None:
        message = re.sub(r"\s+", " ", str(outcome.exception)).strip()
        raise PipelineError(f"dbt {' '.join(args[:2])} could not run: {message[:500]}")
    return outcome


def _failure(outcome: Any, status: str) -> str:
    """Return what failed and why, in one line: a model or test by name, a stale source by name and age."""
    node: Any = getattr(outcome, "node", None)
    if getattr(node, "resource_type", None) == "source":
        name = f"{node.source_name}.{node.name}"
        loaded = getattr(outcome, "max_loaded_at", None)
        if status == "error" and loaded is not None:
            limit = getattr(getattr(node, "freshness", None), "error_after", None)
            rule = ""
            if limit is not None and limit.count:
                rule = f" (error after {limit.count} {limit.period.value}{'s' if limit.count != 1 else ''})"
            if loaded.year == 1:  # what dbt reports when the loaded_at_query finds no row
                return f"{name}: stale, never loaded (no successful step in ops.run_audit){rule}"
            age = timedelta(seconds=outcome.age)
            ago = f"{age.days} days {age.seconds // 3600} hours" if age.days else f"{age.seconds // 3600} hours"
            return f"{name}: stale, last loaded {loaded:%Y-%m-%d %H:%M} UTC, {ago} ago{rule}"
    else:
        name = getattr(node, "name", "?")
    message = re.sub(r"\s+", " ", str(outcome.message or "")).strip()
    return f"{name}: {message[:300]}"


def compile_for_trino(warehouse: Warehouse) -> dict[str, tuple[str, str]]:
    """Compile the project for the trino target without a server; return {model: (schema, Trino SQL)}.

    dbt only needs a connection to fill its cache of existing relations and to introspect; both are turned off.
    """
    offline = ["--no-populate-cache", "--no-introspect", "--vars", json.dumps({"compile_offline": True})]
    run(warehouse, ["compile", *offline], target="trino")
    manifest = Path(environment(warehouse, "trino")["DBT_TARGET_PATH"]) / "manifest.json"
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return {n["name"]: (n["schema"], n["compiled_code"]) for n in nodes if n["resource_type"] == "model"}

"""Superset's configuration for the lakehouse, loaded through SUPERSET_CONFIG_PATH.

`lakehouse superset` starts Superset with the environment this file reads; nothing here is a secret. The secret key
comes from SUPERSET_SECRET_KEY (from the environment, or generated once into the gitignored `.env`), and Superset
refuses to start without one rather than fall back to its well-known default.
"""

import os
from pathlib import Path

SECRET_KEY = os.environ.get("SUPERSET_SECRET_KEY", "")
if len(SECRET_KEY) < 32:
    raise RuntimeError(
        "SUPERSET_SECRET_KEY is missing or shorter than 32 characters: start Superset with `lakehouse superset up`, "
        "which generates one into .env"
    )

_state = Path(os.environ["LAKEHOUSE_SUPERSET_HOME"])
DATA_DIR = str(_state)
# Superset's own metadata (users, datasets, charts, dashboards): a SQLite file under the warehouse.
SQLALCHEMY_DATABASE_URI = os.environ.get("SUPERSET_METADATA_URI") or f"sqlite:///{_state / 'superset.db'}"
SQLALCHEMY_TRACK_MODIFICATIONS = False


def _tune_sqlite(dbapi_connection, _record):
    # Write-ahead logging lets the web workers read while one writes (no "database is locked"), and NORMAL sync
    # makes each of Superset's small commits (sessions, action log) cheap. Only Superset's own metadata is SQLite.
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("pragma journal_mode=wal")
        cursor.execute("pragma synchronous=normal")
        cursor.execute("pragma busy_timeout=10000")
        cursor.close()


def _listen_for_sqlite():
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _tune_sqlite):
        event.listen(Engine, "connect", _tune_sqlite)


_listen_for_sqlite()

# Chart results are cached on disk until the data changes: every `lakehouse run` that writes empties this folder
# (and `lakehouse superset up` does too), so a dashboard shows the newest run on its next load, and otherwise
# answers from the cache.
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {
    "CACHE_TYPE": "FileSystemCache",
    "CACHE_DIR": str(_state / "chart-cache"),
    "CACHE_DEFAULT_TIMEOUT": 7 * 86400,
    "CACHE_THRESHOLD": 10000,
}
FILTER_STATE_CACHE_CONFIG = {"CACHE_TYPE": "SupersetMetastoreCache", "CACHE_DEFAULT_TIMEOUT": 86400}
EXPLORE_FORM_DATA_CACHE_CONFIG = {"CACHE_TYPE": "SupersetMetastoreCache", "CACHE_DEFAULT_TIMEOUT": 86400}

# A single local instance: no rate-limit store, no outbound calls, a quieter log.
RATELIMIT_ENABLED = False
RATELIMIT_STORAGE_URI = "memory://"
# Every chart of our small dashboards renders at once (no virtualisation), so a dashboard is done when all are drawn.
FEATURE_FLAGS = {
    "DASHBOARD_NATIVE_FILTERS": True,
    "DASHBOARD_VIRTUALIZATION": False,
    "ENABLE_TEMPLATE_PROCESSING": False,
}
LOG_LEVEL = os.environ.get("SUPERSET_LOG_LEVEL", "WARNING")
SUPERSET_WEBSERVER_TIMEOUT = 120
# Served on 127.0.0.1 over plain HTTP; the stack puts Superset behind its own proxy.
TALISMAN_ENABLED = os.environ.get("TALISMAN_ENABLED", "false").lower() == "true"
WTF_CSRF_TIME_LIMIT = None
CONTENT_SECURITY_POLICY_WARNING = False

# -- DuckDB: one database instance per Superset worker ------------------------------------------------------------
# Superset opens a new connection (NullPool) for every chart query. For DuckDB a new connection to a file nobody holds
# means a new database instance, and loading the delta extension again: about 300 ms per query. Holding one
# connection open per worker keeps the instance (DuckDB reuses an open instance for the same file and settings), so a
# chart query costs a few milliseconds plus its own work. When `lakehouse superset up` replaces the views file, the
# held connection is reopened on the new file.
import threading  # noqa: E402

_held_lock = threading.Lock()
_held: dict[str, tuple[tuple[int, int], object]] = {}


def _hold_duckdb_instance(url, engine_kwargs):
    from sqlalchemy import create_engine

    path = url.database
    try:
        stat = os.stat(path)
    except OSError:
        return
    identity = (stat.st_ino, stat.st_mtime_ns)
    with _held_lock:
        held = _held.get(path)
        if held is not None and held[0] == identity:
            return
        if held is not None:
            held[1].close()
        _held[path] = (identity, create_engine(url, **engine_kwargs).raw_connection())


def DB_CONNECTION_MUTATOR(url, engine_kwargs, username, security_manager, source):
    if url.drivername == "duckdb" and url.database and url.database != ":memory:":
        _hold_duckdb_instance(url, dict(engine_kwargs))
    return url, engine_kwargs


# -- Superset's action log ------------------------------------------------------------------------------------------
# By default every request writes a row (and a commit) into the metadata database's action log; on SQLite that is a
# fifth of a chart query's time. No action log is kept unless SUPERSET_ACTION_LOG=db is set in the environment
# (a shared instance that wants Superset's own audit of who opened what).
def _quiet_event_logger():
    from superset.utils.log import AbstractEventLogger

    class NoActionLog(AbstractEventLogger):
        def log(self, user_id, action, *args, **kwargs):
            return None

    return NoActionLog()


if os.environ.get("SUPERSET_ACTION_LOG", "none") != "db":
    EVENT_LOGGER = _quiet_event_logger()

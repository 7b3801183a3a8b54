"""Trino in the stack: the `lakehouse` catalog over the warehouse's Delta tables.

The pipeline writes Delta tables to S3; Trino finds them through its file metastore once each is registered
(`system.register_table`), which `register_tables` does after a run for every table Trino does not know yet.
Registering is idempotent: a known table is left alone, and Trino reads each table's newest version by itself.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pyarrow as pa

from lakehouse.errors import UserError
from lakehouse.settings import Settings
from lakehouse.warehouse import TABLE_SCHEMAS, Warehouse

if TYPE_CHECKING:
    import requests

CATALOG = "lakehouse"
# The client announces at INFO that it cannot store OAuth2 tokens, which the stack never uses.
logging.getLogger("trino.auth").setLevel(logging.WARNING)
# The schemas dbt builds in on Trino, beside the layers: its views (staging, intermediate) and its Type 2 snapshots.
DBT_SCHEMAS = ("staging", "intermediate", "snapshots")
# The pipeline's own identity in Trino (the local stack listens on 127.0.0.1 only and authenticates nobody).
PIPELINE_USER = "lakehouse"
# In docker-compose Trino checks passwords over HTTPS; its certificate is signed by the CA in this file.
CA_VARIABLE = "LAKEHOUSE_TRINO_CA"


def password_variable(user: str) -> str:
    """Return the name of the environment variable holding a Trino user's password (.env, `stack init --compose`)."""
    return f"LAKEHOUSE_TRINO_PASSWORD_{user.upper()}"


@dataclass
class TrinoResult:
    """Rows of a query, the SQL Trino ran, and the time taken."""

    table: pa.Table
    sql: str
    seconds: float


class Trino:
    """A connection to the stack's Trino, in the `lakehouse` catalog."""

    def __init__(self, settings: Settings, user: str = PIPELINE_USER):
        import trino

        parts = urlsplit(settings.trino_url)
        self.url = settings.trino_url
        # Over HTTPS (docker-compose) the user proves who it is with its password; over plain HTTP (the local stack,
        # on 127.0.0.1 only) Trino takes the name as given, and the client would refuse to send a password anyway.
        password = os.environ.get(password_variable(user)) if parts.scheme == "https" else None
        self._connection = trino.dbapi.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (443 if parts.scheme == "https" else 8080),
            http_scheme=parts.scheme or "http",
            user=user,
            auth=trino.auth.BasicAuthentication(user, password) if password else None,
            http_session=_session(os.environ.get(CA_VARIABLE)),
            catalog=CATALOG,
            request_timeout=300,
        )
        # The cursor of the statement running, for cancel() from another thread, and the last query it cancelled.
        self._running: trino.dbapi.Cursor | None = None
        self._cancelled: str | None = None

    def close(self) -> None:
        self._connection.close()

    def cancel(self) -> None:
        """Cancel the statement running on this connection, from another thread (Ctrl-C, a time limit).

        Trino is told over its REST API: a DELETE on the query's next URI. A statement whose first request Trino has
        not answered yet has no query to cancel: a caller that must stop it calls again until the statement has ended.
        """
        import requests
        import trino

        cursor = self._running
        query_id = cursor.query_id if cursor is not None else None
        if cursor is None or query_id is None or query_id == self._cancelled:
            return
        try:
            cursor.cancel()
        except (trino.exceptions.Error, trino.exceptions.HttpError, requests.RequestException):
            return  # tried again on the next call; a query no client asks about is ended by Trino itself
        self._cancelled = query_id

    def _run(self, sql: str, failed: str) -> tuple[list[tuple], list[str]]:
        """Run one statement; return its rows and column names. Trino's errors become UserErrors with its message."""
        import trino

        cursor = self._connection.cursor()
        self._running = cursor
        try:
            cursor.execute(sql)
            rows = [tuple(row) for row in cursor.fetchall()]
            return rows, [d[0] for d in cursor.description or []]
        except trino.exceptions.TrinoUserError as exc:
            raise UserError(f"{failed}: {exc.error_name}: {exc.message}") from None
        except (trino.exceptions.TrinoConnectionError, OSError) as exc:
            raise UserError(f"cannot reach Trino at {self.url} ({exc}): start it with `lakehouse stack up`") from None
        except trino.exceptions.HttpError as exc:  # e.g. 401: a wrong password, or none where Trino asks for one
            raise UserError(f"{failed}: {self.url} refused the request ({exc})") from None
        finally:
            self._running = None
            cursor.close()

    def execute(self, sql: str) -> list[tuple]:
        """Run one statement and return its rows."""
        return self._run(sql, "Trino")[0]

    def query(self, sql: str) -> TrinoResult:
        """Run a query and return its rows as Arrow (column types as Trino reports them, values as Python gives)."""
        clock = time.perf_counter()
        rows, names = self._run(sql, "query failed")
        columns = {name: [row[i] for row in rows] for i, name in enumerate(_unique(names))}
        return TrinoResult(pa.table(columns) if names else pa.table({}), sql, time.perf_counter() - clock)


def _session(ca: str | None) -> requests.Session:
    """Return the HTTP session for a connection: trusting the CA certificate in file `ca` (docker-compose's own CA)
    instead of the system's when given."""
    import requests

    session = requests.Session()
    if ca:
        session.verify = ca
        # Otherwise REQUESTS_CA_BUNDLE, where set, would be trusted instead (requests prefers it to session.verify).
        session.trust_env = False
    return session


def _unique(names: list[str]) -> list[str]:
    """Return column names made unique (Trino allows `select 1, 1`; an Arrow table does not)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


@contextmanager
def connected(settings: Settings, user: str = PIPELINE_USER) -> Iterator[Trino]:
    client = Trino(settings, user)
    try:
        yield client
    finally:
        client.close()


def create_schemas(client: Trino, warehouse: Warehouse) -> None:
    """Create the layers' schemas and dbt's, each located at its folder of the warehouse.

    The catalog serves one warehouse: a schema left located in another one (LAKEHOUSE_WAREHOUSE changed) is emptied
    of its registrations (the data stays where it is) and made again at this warehouse's folder.
    """
    existing = {row[0] for row in client.execute(f"show schemas from {CATALOG}")}
    for layer in (*TABLE_SCHEMAS, *DBT_SCHEMAS):
        location = warehouse.uri(layer)
        if layer in existing:
            create = client.execute(f"show create schema {CATALOG}.{layer}")[0][0]
            if f"location = '{location}'" in create:
                continue
            relations = client.execute(
                f"select table_name, table_type from {CATALOG}.information_schema.tables where table_schema = '{layer}'"
            )
            for table, kind in relations:
                if kind == "VIEW":  # dbt's views are made again by its next build
                    client.execute(f'drop view {CATALOG}.{layer}."{table}"')
                else:
                    _unregister(client, layer, table)
            client.execute(f"drop schema {CATALOG}.{layer}")
        client.execute(f"create schema {CATALOG}.{layer} with (location = '{location}')")


def registered(client: Trino) -> set[str]:
    """Return the tables Trino knows in the layers' and dbt's schemas, as `schema.table`."""
    layers = ", ".join(f"'{layer}'" for layer in (*TABLE_SCHEMAS, *DBT_SCHEMAS))
    rows = client.execute(
        f"select table_schema, table_name from {CATALOG}.information_schema.tables where table_schema in ({layers})"
    )
    return {f"{schema}.{table}" for schema, table in rows}


def forget_tables(settings: Settings, names: Sequence[str]) -> None:
    """Unregister the tables `names` (`schema.table`) that Trino knows: their files are gone, and a table made again
    at the same place must be registered anew."""
    if not names:
        return
    with connected(settings) as client:
        known = registered(client)
        for name in names:
            if name in known:
                _unregister(client, *name.split(".", 1))


def _unregister(client: Trino, schema: str, table: str) -> None:
    """Make Trino forget a table, leaving its files where they are."""
    client.execute(f"call {CATALOG}.system.unregister_table(schema_name => '{schema}', table_name => '{table}')")


def register_tables(settings: Settings, warehouse: Warehouse) -> list[str]:
    """Register every Delta table of the warehouse that Trino does not know yet; return the ones registered.

    dbt's snapshots are registered too: a snapshot Trino has forgotten (its metastore lost, or the catalog pointed at
    another warehouse and back) would otherwise make dbt create it again over its own files, which Trino refuses.
    """
    with connected(settings) as client:
        create_schemas(client, warehouse)
        known = registered(client)
        added = []
        for name in warehouse.tables((*TABLE_SCHEMAS, *DBT_SCHEMAS)):
            if name in known:
                continue
            layer, table = name.split(".", 1)
            client.execute(
                f"call {CATALOG}.system.register_table(schema_name => '{layer}', table_name => '{table}', "
                f"table_location => '{warehouse.uri(layer, table)}')"
            )
            added.append(name)
    return added

"""The table layer's read-only side without Spark: what a table's Delta log says, for readers that never start Spark.

`lakehouse sql`'s catalog answers `DESCRIBE`, `SHOW CREATE TABLE`, the `"$history"` and `"$properties"` tables and
time travel from here. Writes, and reads of rows, go through `Tables` (lakehouse/tables.py), which brings Spark.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lakehouse.warehouse import Warehouse, parse_table_name


@dataclass(frozen=True)
class Snapshot:
    """A table as its log says it is at one version: its schema, description, layout and protocol."""

    name: str
    version: int
    fields: list[dict[str, Any]]  # the Delta schema's fields, as the protocol writes them (name, type, nullable, …)
    description: str | None
    configuration: dict[str, str]
    partition_columns: list[str]
    min_reader_version: int
    min_writer_version: int
    features: list[str]


class TableLogs:
    """The Delta logs of one warehouse's tables, each table opened once per version asked for."""

    def __init__(self, warehouse: Warehouse):
        self.warehouse = warehouse
        self._opened: dict[tuple[str, int | None], Any] = {}

    def _open(self, name: str, version: int | None = None) -> Any:
        """Return the delta-rs table `name` (at `version`), or None when the warehouse has no such table."""
        from deltalake import DeltaTable

        key = (name, version)
        if key not in self._opened:
            parse_table_name(name)
            uri, options = self.warehouse.table_uri(name), self.warehouse.storage_options() or None
            if version is None:
                found = DeltaTable(uri, storage_options=options) if DeltaTable.is_deltatable(uri, options) else None
            else:
                found = DeltaTable(uri, version=version, storage_options=options)
            self._opened[key] = found
        return self._opened[key]

    def latest(self, name: str) -> int | None:
        """Return the table's newest version (None: no such table)."""
        table = self._open(name)
        return None if table is None else table.version()

    def snapshot(self, name: str, version: int | None = None) -> Snapshot | None:
        """Return the table as of `version` (the newest by default), or None when there is no such table; a version
        outside 0..latest is the caller's to check first (`latest`)."""
        table = self._open(name, version)
        if table is None:
            return None
        metadata, protocol = table.metadata(), table.protocol()
        return Snapshot(
            name=name,
            version=table.version(),
            fields=json.loads(table.schema().to_json())["fields"],
            description=metadata.description,
            configuration=dict(metadata.configuration),
            partition_columns=list(metadata.partition_columns),
            min_reader_version=protocol.min_reader_version,
            min_writer_version=protocol.min_writer_version,
            features=sorted({*(protocol.reader_features or ()), *(protocol.writer_features or ())}),
        )

    def history(self, name: str) -> list[dict[str, Any]]:
        """Return the table's commits, oldest first, each its commitInfo with its version (empty: no such table)."""
        table = self._open(name)
        return [] if table is None else sorted(table.history(), key=lambda e: e.get("version", -1))

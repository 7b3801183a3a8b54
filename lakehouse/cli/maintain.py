"""`lakehouse maintain`: compact small files and remove files no version needs any more."""

from __future__ import annotations

import click
from deltalake import DeltaTable

from lakehouse.report import console
from lakehouse.settings import load_settings
from lakehouse.warehouse import Warehouse


@click.command("maintain")
@click.option("--retention-hours", type=int, default=168, show_default=True, help="Keep files newer than this.")
@click.option("--no-vacuum", is_flag=True, help="Only compact; keep every old file (time travel stays complete).")
def command(retention_hours: int, no_vacuum: bool) -> None:
    """OPTIMIZE (compact) every Delta table, then VACUUM files older than the retention."""
    warehouse = Warehouse(load_settings())
    warehouse.require_exists()
    options = warehouse.storage_options() or None
    for name in warehouse.tables():
        dt = DeltaTable(warehouse.table_uri(name), storage_options=options)
        metrics = dt.optimize.compact()
        removed = (
            []
            if no_vacuum
            else dt.vacuum(retention_hours=retention_hours, enforce_retention_duration=False, dry_run=False)
        )
        console.print(
            f"{name:<32} compacted {metrics.get('numFilesRemoved', 0)} → {metrics.get('numFilesAdded', 0)} files, "
            f"vacuumed {len(removed)} files"
        )

"""`lakehouse maintain`: compact small files and remove files no version needs any more.

It rewrites every table, so it holds the warehouse's write lease (lakehouse/lease.py) like a run does.
"""

from __future__ import annotations

import click

from lakehouse import lease, native_panics
from lakehouse.cli.options import wait_for_writer
from lakehouse.report import console
from lakehouse.settings import load_settings
from lakehouse.tables import Tables
from lakehouse.warehouse import Warehouse


@click.command("maintain")
@click.option("--retention-hours", type=int, default=168, show_default=True, help="Keep files newer than this.")
@click.option("--no-vacuum", is_flag=True, help="Only compact; keep every old file (time travel stays complete).")
@wait_for_writer
def command(retention_hours: int, no_vacuum: bool, wait: float) -> None:
    """OPTIMIZE (compact) every Delta table, then VACUUM files older than the retention.

    Tables made by an older version of the lakehouse get the current table settings first (the log checkpoint
    interval).
    """
    warehouse = Warehouse(load_settings())
    warehouse.require_exists()
    with native_panics.kept_off_console(), lease.hold(warehouse, "lakehouse maintain", wait):
        tables = Tables(warehouse)
        for name in tables.names():
            metrics = tables.optimize(name)
            removed = [] if no_vacuum else tables.vacuum(name, retention_hours)
            console.print(
                f"{name:<32} compacted {metrics.get('numFilesRemoved', 0)} → {metrics.get('numFilesAdded', 0)} "
                f"files, vacuumed {len(removed)} files"
            )

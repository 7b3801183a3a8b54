"""Options that several commands share, declared once."""

from __future__ import annotations

import click

# Every command that writes tables holds the warehouse's lease (lakehouse/lease.py) and takes this option.
wait_for_writer = click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="When another command is writing the warehouse, wait this long for it to finish before giving up.",
)

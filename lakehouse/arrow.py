"""Small Arrow helpers for rows already collected to the driver."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc


def split(table: pa.Table, flag: str, keep: Sequence[str], flagged: Sequence[str]) -> tuple[pa.Table, pa.Table]:
    """Return (rows where `flag` is null, with columns `keep`; rows where it is set, with columns `flagged`)."""
    is_set = pc.is_valid(table.column(flag))
    return table.filter(pc.invert(is_set)).select(list(keep)), table.filter(is_set).select(list(flagged))


def flagged(table: pa.Table, flag: str) -> pa.Table:
    """Return the rows of `table` where `flag` is set (not null)."""
    return table.filter(pc.is_valid(table.column(flag)))

"""How runs are shown to a person: the live step list and the closing summary table."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from lakehouse.pipeline.context import StepResult

# Piped output (CI logs, files) gets a fixed width wide enough for the summary table.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def _batches(r: StepResult) -> str:
    """Return the batches a step took, as `first→last` (`…` when it started from the beginning). Batches are the
    warehouse's sequence of runs that found new landing files, not days (docs/operations.md)."""
    if r.batch_to is None:
        return ""
    start = str(r.batch_from) if r.batch_from else "…"
    return f"{start}→{r.batch_to}" if r.batch_from != r.batch_to else str(r.batch_to)


def summary_table(results: Sequence[StepResult], title: str = "Run summary") -> Table:
    """Return a table of rows in, out, quarantined and duplicate per step, with a total line."""
    table = Table(title=title, title_justify="left", show_footer=True)
    table.add_column("step", footer="total")
    table.add_column("batches")
    for name, attr in (
        ("rows in", "rows_in"),
        ("rows out", "rows_out"),
        ("quarantined", "rows_quarantined"),
        ("duplicates", "rows_duplicate"),
    ):
        table.add_column(name, justify="right", footer=f"{sum(getattr(r, attr) for r in results):,}")
    table.add_column("seconds", justify="right", footer=f"{sum(r.seconds for r in results):.1f}")
    table.add_column("status")
    for r in results:
        style = {"failed": "red", "skipped": "dim"}.get(r.status, "")
        table.add_row(
            r.step,
            _batches(r),
            f"{r.rows_in:,}",
            f"{r.rows_out:,}",
            f"{r.rows_quarantined:,}",
            f"{r.rows_duplicate:,}",
            f"{r.seconds:.1f}",
            r.status if r.status != "skipped" else (r.notes[0] if r.notes else "nothing new"),
            style=style,
        )
    return table


class Listener:
    """Hears about steps as they start and finish (the CLI shows progress with it). Called from worker threads."""

    def started(self, step: str, index: int, total: int) -> None: ...
    def finished(self, result: StepResult, index: int, total: int) -> None: ...
    def note(self, message: str) -> None: ...


class ConsoleListener(Listener):
    """Shows which steps are running on one live line, and prints a line per step as it finishes."""

    def __init__(self, out: Console | None = None):
        self.out = out or console
        self._running: list[str] = []
        self._lock = threading.Lock()
        self._status = self.out.status("")

    def _refresh(self) -> None:
        if self._running:
            self._status.update(f"running {', '.join(self._running)} …")
            self._status.start()
        else:
            self._status.stop()

    def started(self, step: str, index: int, total: int) -> None:
        with self._lock:
            self._running.append(step)
            self._refresh()

    def finished(self, result: StepResult, index: int, total: int) -> None:
        if result.status == "skipped":
            detail = result.notes[0] if result.notes else "nothing new"
        elif result.status == "failed":
            detail = f"[red]failed[/red]: {result.error}"
        else:
            detail = (
                f"{result.rows_in:,} in → {result.rows_out:,} out"
                + (f", {result.rows_quarantined:,} quarantined" if result.rows_quarantined else "")
                + (f", {result.rows_duplicate:,} duplicates" if result.rows_duplicate else "")
            )
        with self._lock:
            if result.step in self._running:
                self._running.remove(result.step)
            self.out.print(f"[{index:>2}/{total}] {result.step:<28} {detail}  [dim]{result.seconds:.1f}s[/dim]")
            self._refresh()

    def note(self, message: str) -> None:
        with self._lock:
            self.out.print(message, style="bold", markup=False)

    def close(self) -> None:
        with self._lock:
            self._running.clear()
            self._status.stop()

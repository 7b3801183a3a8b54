"""What every pipeline step receives and returns."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pyspark.sql import SparkSession

from lakehouse.errors import PipelineError
from lakehouse.tables import Tables
from lakehouse.warehouse import Warehouse


def next_batch(batch: int) -> int:
    """Return the batch after `batch`: batches are one warehouse-wide sequence that each ingesting run adds one to
    (lakehouse/pipeline/landing.py). A warehouse made before it numbered its batches by landing day (YYYYMMDD); its
    new batches continue above those."""
    return batch + 1


@dataclass
class RunContext:
    """One pipeline run: the tables it works on and when it started."""

    tables: Tables
    run_id: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6])
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The last batch each step is recorded as having done in the audit (audit.recorded reads it once).
    recorded: dict[str, int] | None = field(default=None, repr=False)
    # The batch this run gives the landing files it takes (landing.run_batch numbers it once).
    batch: int | None = field(default=None, repr=False)
    # The last landing day this pass of the run takes (None: all); a backlog is taken in passes (runner.run).
    landing_until: date | None = field(default=None, repr=False)
    # Whether bronze has checked `bronze.quarantine`'s columns this run (and brought an older one up to date).
    quarantine_checked: bool = field(default=False, repr=False)

    def next_pass(self, number: int, landing_until: date | None) -> RunContext:
        """Return the context of the run's pass `number` (from 2): a run id of its own, since the audit has a row per
        run and step, and nothing this pass read of the audit or numbered."""
        return RunContext(
            self.tables,
            run_id=f"{self.run_id.split('+', 1)[0]}+{number}",
            started_at=datetime.now(UTC),
            landing_until=landing_until,
            quarantine_checked=self.quarantine_checked,
        )

    @property
    def spark(self) -> SparkSession:
        if self.tables.spark is None:
            raise PipelineError("this step needs a Spark session")
        return self.tables.spark

    @property
    def warehouse(self) -> Warehouse:
        return self.tables.warehouse


@dataclass
class StepResult:
    """What one step did: rows in, rows out, rows quarantined and duplicates removed, per target table."""

    step: str
    table: str
    batch_from: int | None = None
    batch_to: int | None = None
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    status: str = "ok"  # ok, skipped (nothing new), failed
    error: str | None = None
    trace: str | None = None  # the full traceback of a failure, for the run log
    seconds: float = 0.0
    started_at: datetime | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def did_work(self) -> bool:
        return self.status != "skipped"

    @property
    def layer(self) -> str:
        return self.step.split(".", 1)[0]

    def absorb(self, earlier: StepResult) -> None:
        """Count `earlier` (the batches just before this result's) as part of this result."""
        self.batch_from = earlier.batch_from
        self.rows_in += earlier.rows_in
        self.rows_out += earlier.rows_out
        self.rows_quarantined += earlier.rows_quarantined
        self.rows_duplicate += earlier.rows_duplicate
        self.notes.extend(earlier.notes)


@dataclass(frozen=True)
class Step:
    """A pipeline step, declared once beside its code: its name (`layer.step`: the run audit's step and its batch
    marker's app id), what it runs, the tables it reads and writes, the steps that must have finished first, and the
    table whose log holds its batch marker (the steps after it read its progress there)."""

    name: str
    run: Callable[[RunContext], StepResult]
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    # A step that reads `ops.run_audit` (dbt's freshness check) starts only once the steps before it are recorded.
    reads_audit: bool = False
    marker: str = ""

    @property
    def layer(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def mark(self) -> tuple[str, str]:
        """Return where the step's progress is read: (the table holding its batch marker, the marker's app id)."""
        return (self.marker, self.name)

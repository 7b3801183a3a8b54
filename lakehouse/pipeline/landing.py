"""The landing ledger, `ops.landing_files`: every landing file bronze has taken, once per file and content.

Bronze decides what to read by file, not by day: a file is new when the ledger has no row with its path, size and
modification time. A new file is hashed (SHA-256 of its bytes, on S3 too: an ETag is not a content hash once an
upload is multipart) and recorded with one of these statuses:

- `ingested`: read into bronze (and its quarantine);
- `duplicate`: the same bytes as a file already ingested under another name; not read, its records counted as
  duplicates in the run audit;
- `conflict`: a path already ingested now holds other bytes; quarantined whole in `bronze.quarantine`, never read
  over what bronze holds (deliver the new content under a new file name to load it);
- `unchanged`: a path already taken, touched but with the same bytes; not read again.

Every run that finds new files gives them the next number of one warehouse-wide batch sequence (above every batch
any table has), so a late day folder or a late file gets a batch above what silver and gold have done, and they
recompute the days it touches. A backlog larger than a pass (`LAKEHOUSE_PASS_MAX_MB`) is taken a few whole landing
days at a time (`next_pass`): what one pass reads, and so what Spark holds at once, is bounded by the pass, not by
the backlog. The ledger rows are committed first, with the bronze step's batch marker; the
quarantine and the bronze table follow with the same marker. A run that stops between them leaves a claim above the
bronze table's watermark, which the next run reads again under the same batch.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pyarrow as pa

from lakehouse.entities import ENTITIES, Entity
from lakehouse.pipeline.context import RunContext
from lakehouse.settings import MB
from lakehouse.tables import Commit, Tables, TableSpec
from lakehouse.transforms import bronze as tf
from lakehouse.warehouse import LandingFile, Warehouse

LEDGER = TableSpec(
    "ops.landing_files",
    "Every landing file bronze has taken: feed, landing day, path, size, modification time, SHA-256 of its bytes, "
    "records, the batch that took it, and whether it was ingested or set aside as a duplicate, conflict or unchanged.",
    keys=("feed", "path", "checksum"),
    partition_by=("feed",),
)

SCHEMA = pa.schema(
    [
        ("feed", pa.string()),
        ("landing_date", pa.date32()),
        ("path", pa.string()),
        ("size", pa.int64()),
        ("modified_at", pa.timestamp("us", tz="UTC")),
        ("checksum", pa.string()),
        ("records", pa.int64()),
        ("batch_id", pa.int32()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("recorded_at", pa.timestamp("us", tz="UTC")),
    ]
)
INGESTED, DUPLICATE, CONFLICT, UNCHANGED = "ingested", "duplicate", "conflict", "unchanged"
ADOPTED = "adopted: ingested by a run before the ledger existed"

# Bronze steps of different feeds run side by side: one of them numbers the run's batch, each writes the ledger.
_NUMBERING = threading.Lock()
_WRITING = threading.Lock()


@dataclass(frozen=True)
class Entry:
    """A landing file as the ledger records it: the file, its checksum and records, its status and why."""

    file: LandingFile
    checksum: str
    records: int
    status: str
    reason: str | None = None


def _bronze(entity: Entity | str) -> str:
    return f"bronze.{entity if isinstance(entity, str) else entity.name}"


def recorded(tables: Tables, feed: str) -> list[dict]:
    """Return the ledger's rows of `feed` (none before the ledger exists)."""
    if not tables.exists(LEDGER.name):
        return []
    sql = f"select * from t where feed = '{feed}'"  # feed names are the contract's own identifiers
    return tables.query(LEDGER.name, sql).to_pylist()


def fingerprint(warehouse: Warehouse, entity: Entity, uri: str) -> tuple[str, int]:
    """Return the SHA-256 of a file's bytes and the records it holds, from one pass over it."""
    digest = hashlib.sha256()

    def hashed() -> Iterable[bytes]:
        for chunk in warehouse.iter_bytes(uri):
            digest.update(chunk)
            yield chunk

    lines = tf.count_lines(hashed())
    return digest.hexdigest(), tf.file_records(entity, lines)


def _file(row: dict) -> LandingFile:
    return LandingFile(row["path"], row["landing_date"], row["size"], row["modified_at"])


class _Known:
    """What the ledger knows of a feed's files: listings seen, contents per path, ingested contents."""

    def __init__(self, rows: list[dict]):
        self.seen = {(r["path"], r["size"], r["modified_at"]) for r in rows}
        self.contents: dict[str, set[str]] = {}
        self.ingested: dict[str, str] = {}
        for r in sorted(rows, key=lambda r: r["batch_id"]):
            self.add(r["path"], r["checksum"], r["status"])

    def add(self, path: str, checksum: str, status: str) -> None:
        self.contents.setdefault(path, set()).add(checksum)
        if status == INGESTED:
            self.ingested.setdefault(checksum, path)

    def judge(self, path: str, checksum: str) -> tuple[str, str | None]:
        """Return the status of a file with these bytes at this path, and why when it is not ingested."""
        if path in self.contents and checksum in self.contents[path]:
            return UNCHANGED, "delivered again with the same bytes: not read again"
        if path in self.contents:
            return CONFLICT, (
                "changed after it was ingested (another SHA-256 at the same path): bronze keeps what it read before; "
                "to load the new content, deliver it under a new file name"
            )
        if checksum in self.ingested:
            return DUPLICATE, f"the same bytes as {self.ingested[checksum]}, already ingested: not read again"
        return INGESTED, None


def new_files(warehouse: Warehouse, entity: Entity, rows: list[dict], until: date | None = None) -> list[Entry]:
    """Return the feed's landing files the ledger `rows` do not hold yet (of landing days up to `until`, if given),
    hashed and judged, in path order."""
    known = _Known(rows)
    entries = []
    for file in warehouse.landing_listing(entity.name):
        if (file.uri, file.size, file.modified) in known.seen or (until is not None and file.day > until):
            continue
        checksum, records = fingerprint(warehouse, entity, file.uri)
        status, reason = known.judge(file.uri, checksum)
        known.add(file.uri, checksum, status)
        entries.append(Entry(file, checksum, records, status, reason))
    return entries


def unfinished(rows: list[dict], done: int) -> list[tuple[int, list[Entry]]]:
    """Return the batches (oldest first) and their files that runs claimed in the ledger `rows` but did not commit to
    bronze (above `done`)."""
    claims: dict[int, list[Entry]] = {}
    for r in sorted(rows, key=lambda r: r["path"]):
        if r["batch_id"] > done:
            entry = Entry(_file(r), r["checksum"], r["records"], r["status"], r["reason"])
            claims.setdefault(r["batch_id"], []).append(entry)
    return sorted(claims.items())


def run_batch(ctx: RunContext) -> int:
    """Return the run's batch: one above every batch the bronze tables and the ledger hold (numbered once a run)."""
    with _NUMBERING:
        if ctx.batch is None:
            marks = [ctx.tables.watermark(_bronze(e), _bronze(e)) or 0 for e in ENTITIES]
            claimed = 0
            if ctx.tables.exists(LEDGER.name):
                claimed = ctx.tables.query(LEDGER.name, "select max(batch_id) as b from t").column(0)[0].as_py() or 0
            ctx.batch = max(*marks, claimed) + 1
        return ctx.batch


Mark = tuple[str, str]  # (table, app): a step's batch marker on a table


def _claimed_above(tables: Tables) -> set[str]:
    """Return the feeds with files claimed in the ledger that their bronze table does not have yet."""
    if not tables.exists(LEDGER.name):
        return set()
    claims = tables.query(LEDGER.name, "select feed, max(batch_id) as batch from t group by feed").to_pylist()
    return {r["feed"] for r in claims if r["batch"] > (tables.watermark(_bronze(r["feed"]), _bronze(r["feed"])) or 0)}


def newest(tables: Tables, marks: Sequence[Mark]) -> int:
    """Return the newest batch any of `marks` has committed (0 when none has)."""
    return max(tables.watermark(table, app) or 0 for table, app in marks)


def available(tables: Tables, marks: Sequence[Mark], inputs: Mapping[str, Sequence[Mark]]) -> int:
    """Return the batch every mark has consumed everything up to: the least of their progress.

    A batch is numbered for the whole warehouse, but only the feeds with new files get it. A step that has done every
    batch its feed (or its `inputs`, for a step reading other steps' tables) committed has therefore consumed
    everything up to the latest batch any bronze table holds: no later file of its feed can get a batch that low. So
    a day landing late in one feed does not wait for the other feeds to receive files before gold and dbt recompute
    it.
    """
    latest = newest(tables, [(_bronze(e), _bronze(e)) for e in ENTITIES])
    behind = _claimed_above(tables)

    def progress(table: str, app: str) -> int:
        mark = tables.watermark(table, app) or 0
        if app in inputs:  # a step reading other steps' tables: caught up with them, it has what they have
            if mark < newest(tables, inputs[app]):
                return mark
            return max(mark, min(progress(*m) for m in inputs[app]))
        feed = app.split(".", 1)[1]  # a silver step is named after the feed it reads
        if feed in behind or mark < (tables.watermark(_bronze(feed), _bronze(feed)) or 0):
            return mark
        return max(mark, latest)

    return min(progress(*m) for m in marks)


def _rows(feed: str, batches: dict[str, int], entries: list[Entry]) -> pa.Table:
    """Return ledger rows for `entries`, each with the batch `batches` gives its path."""
    now = datetime.now(UTC)
    rows = [
        {
            "feed": feed,
            "landing_date": e.file.day,
            "path": e.file.uri,
            "size": e.file.size,
            "modified_at": e.file.modified,
            "checksum": e.checksum,
            "records": e.records,
            "batch_id": batches[e.file.uri],
            "status": e.status,
            "reason": e.reason,
            "recorded_at": now,
        }
        for e in entries
    ]
    return pa.Table.from_pylist(rows, SCHEMA)


def _append(ctx: RunContext, entity: Entity, batches: dict[str, int], entries: list[Entry], marker: int) -> None:
    """Append ledger rows for `entries`, once: the bronze step's marker for batch `marker` rides on the commit."""
    with _WRITING:
        ctx.tables.append(LEDGER, _rows(entity.name, batches, entries), commit=Commit(_bronze(entity), marker))


def claim(ctx: RunContext, entity: Entity, batch: int, entries: list[Entry]) -> None:
    """Record `entries` as taken by `batch`, once (the bronze step's marker rides on the commit)."""
    _append(ctx, entity, {e.file.uri: batch for e in entries}, entries, batch)


def ingested_before(tables: Tables, feed: str) -> dict[str, int]:
    """Return the files bronze (and its quarantine) hold rows of, with their batch: what a warehouse made before the
    ledger existed has taken."""
    from lakehouse.pipeline.bronze import QUARANTINE  # bronze imports this module

    sources: dict[str, int] = {}
    sql = "select _source_file as path, max(_batch_id) as batch from t{} group by _source_file"
    for table, where in ((_bronze(feed), ""), (QUARANTINE.name, f" where entity = '{feed}'")):
        if tables.exists(table):
            for row in tables.query(table, sql.format(where)).to_pylist():
                sources[row["path"]] = max(row["batch"] or 0, sources.get(row["path"], 0))
    return sources


def adopt(ctx: RunContext, entity: Entity, done: int, rows: list[dict]) -> int:
    """Record the files bronze took before the ledger existed as ingested, without reading them into bronze again;
    return how many. Nothing to do once the ledger has rows of the feed (`rows`), or before bronze has any batch."""
    if not done or rows:
        return 0
    taken = ingested_before(ctx.tables, entity.name)
    entries = []
    for file in ctx.warehouse.landing_listing(entity.name):
        checksum, records = fingerprint(ctx.warehouse, entity, file.uri)
        if file.uri in taken or not records:  # a file without records left no row, but was read all the same
            entries.append(Entry(file, checksum, records, INGESTED, ADOPTED))
    if entries:
        _append(ctx, entity, {e.file.uri: taken.get(e.file.uri, done) for e in entries}, entries, done)
    return len(entries)


def waiting(tables: Tables, entity: Entity, listing: list[LandingFile] | None = None) -> list[LandingFile]:
    """Return the feed's landing files the next run takes (new, changed, or claimed but not in bronze yet), of its
    `listing` (by default, listed here), without hashing anything: what `lakehouse status` and the watcher report."""
    rows = recorded(tables, entity.name)
    done = tables.watermark(_bronze(entity), _bronze(entity)) or 0
    listing = tables.warehouse.landing_listing(entity.name) if listing is None else listing
    if not rows and done:  # a warehouse from before the ledger: what bronze holds (or holds nothing) is taken
        taken = ingested_before(tables, entity.name)
        fresh = [f for f in listing if f.uri not in taken]
        return [f for f in fresh if fingerprint(tables.warehouse, entity, f.uri)[1]]
    seen = {(r["path"], r["size"], r["modified_at"]) for r in rows if r["batch_id"] <= done}
    return [f for f in listing if (f.uri, f.size, f.modified) not in seen]


@dataclass(frozen=True)
class Pass:
    """What the next pass of a run takes of the waiting landing files: the days up to `until` (None: all of them),
    from `first`; their bytes; the backlog's bytes; how many passes the backlog takes from here."""

    until: date | None
    first: date
    last: date
    bytes: int
    backlog_bytes: int
    passes: int

    def describe(self) -> str:
        """Return what the pass takes, and of how much, in a few words."""
        days = f"{self.first}" if self.first == self.last else f"{self.first}..{self.last}"
        taken = f"landing days {days} ({self.bytes / MB:,.1f} MB)"
        if self.until is None:
            return f"{taken}, the rest of the backlog"
        return f"{taken} of a {self.backlog_bytes / MB:,.1f} MB backlog, about {self.passes} passes' worth"


def plan_pass(sizes: Mapping[date, int], max_bytes: int) -> Pass | None:
    """Return the next pass over a backlog of `sizes` (the bytes waiting, by landing day); None when nothing waits.

    All of it when it fits in `max_bytes` (0: no limit). Otherwise the first whole days of an even share of the fewest
    passes of at most `max_bytes` each, so a backlog of three passes' worth is three passes of a third each, not two
    full ones and a remainder: a day is taken when the share still holds at least half of it. A day is never split,
    so a day larger than `max_bytes` is a pass of its own.
    """
    if not sizes:
        return None
    days = sorted(sizes)
    total = sum(sizes.values())
    if not max_bytes or total <= max_bytes:
        return Pass(None, days[0], days[-1], total, total, 1)
    passes = math.ceil(total / max_bytes)
    share = total / passes
    taken, until = 0, days[0]
    for index, day in enumerate(days):
        size = sizes[day]
        if index and (taken + size > max_bytes or taken + size / 2 > share):
            break
        taken, until = taken + size, day
    return Pass(until, days[0], until, taken, total, passes)


def next_pass(tables: Tables, max_bytes: int) -> Pass | None:
    """Return what the next pass takes of the files waiting in every feed (`waiting`); None when nothing waits, or
    when the whole landing zone fits in one pass (then the ledger is not read for it)."""
    listings = {entity.name: tables.warehouse.landing_listing(entity.name) for entity in ENTITIES}
    if sum(file.size for files in listings.values() for file in files) <= max_bytes:
        return None
    sizes: Counter[date] = Counter()
    for entity in ENTITIES:
        for file in waiting(tables, entity, listings[entity.name]):
            sizes[file.day] += file.size
    return plan_pass(sizes, max_bytes)

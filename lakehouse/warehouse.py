"""Where everything lives. The only module that turns names into locations.

A warehouse is a root URI, either a local directory or `s3://bucket/prefix`. Under it:

    landing/<entity>/dt=YYYY-MM-DD/<entity>_YYYYMMDD.<ext>   files as the shop's systems drop them
    landing/_generator/                                       the synthetic generator's state and manifests
    <layer>/<table>/                                          Delta tables: bronze, silver, gold, ops
    _lakehouse/                                               logs and other run artefacts

Local and S3 differ only in the root and the storage options. Anything else in the landing zone is not read: a
folder of a feed not named `dt=YYYY-MM-DD` (or not a real date) is reported as unrecognised, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path

import pyarrow.fs as pafs

from lakehouse.errors import UserError
from lakehouse.settings import Settings

# The schemas the pipeline's Delta tables live in (a run's layers are another list: bronze, silver, gold, dbt).
TABLE_SCHEMAS = ("bronze", "silver", "gold", "ops")
_TABLE_NAME = re.compile(r"^(?P<layer>[a-z]+)\.(?P<table>[a-z][a-z0-9_]*)$")
# dbt's own working relations (an incremental model's new rows, a table being replaced), dropped after each build.
_DBT_WORK = re.compile(r"__dbt_(tmp|backup)$")
_DAY_DIR = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
LANDING_LAYOUT = "landing/<feed>/dt=YYYY-MM-DD/<files>"
GENERATOR_DIR = "_generator"


def landing_day(folder: str) -> date:
    """Return the day of a landing folder named `dt=YYYY-MM-DD`; raise a ValueError saying why another name is not."""
    match = _DAY_DIR.match(folder)
    if not match:
        raise ValueError("its name is not dt=YYYY-MM-DD")
    try:
        return date.fromisoformat(match[1])
    except ValueError as exc:
        raise ValueError(f"{match[1]} is not a date ({exc})") from None


@dataclass(frozen=True)
class Unrecognised:
    """A path in the landing zone that the pipeline does not read, and why."""

    uri: str
    why: str


@dataclass(frozen=True)
class LandingFile:
    """A file in a feed's day folder as listed: where it is, its landing day, its size and modification time."""

    uri: str
    day: date
    size: int
    modified: datetime


def parse_table_name(name: str) -> tuple[str, str]:
    """Return (layer, table) for a name like `silver.orders`, or raise a UserError saying what is wrong."""
    match = _TABLE_NAME.match(name)
    if not match or match["layer"] not in TABLE_SCHEMAS:
        raise UserError(f"{name!r} is not a table name: use <layer>.<table> with a layer of {', '.join(TABLE_SCHEMAS)}")
    return match["layer"], match["table"]


@dataclass(frozen=True)
class Warehouse:
    """The warehouse root plus how to reach it (filesystem, storage options)."""

    settings: Settings

    @property
    def root(self) -> str:
        return self.settings.warehouse

    @property
    def is_s3(self) -> bool:
        return self.settings.is_s3

    def uri(self, *parts: str) -> str:
        """Return the URI of a path below the root."""
        return "/".join([self.root, *(p.strip("/") for p in parts if p)])

    # -- Delta tables -------------------------------------------------------------------------------------------
    def table_uri(self, name: str) -> str:
        """Return the location of the Delta table `layer.table`."""
        layer, table = parse_table_name(name)
        return self.uri(layer, table)

    def storage_options(self) -> dict[str, str]:
        return self.settings.storage_options()

    def tables(self, layers: Sequence[str] = TABLE_SCHEMAS) -> list[str]:
        """Return every Delta table of the layers (a folder with a `_delta_log`), as `layer.table`, sorted."""
        found = []
        for layer in layers:
            selector = pafs.FileSelector(self.fs_path(self.uri(layer)), allow_not_found=True)
            for info in self.fs.get_file_info(selector):
                name = f"{layer}.{info.base_name}"
                if info.type != pafs.FileType.Directory or not _TABLE_NAME.match(name) or _DBT_WORK.search(name):
                    continue  # no table of the lakehouse's naming: another tool's folder, dbt's working relation
                log = pafs.FileSelector(f"{info.path}/_delta_log", allow_not_found=True)
                # A commit in the log, not only the folder: S3 servers such as SeaweedFS keep a dropped table's
                # folders after its files are deleted.
                if any(entry.type == pafs.FileType.File for entry in self.fs.get_file_info(log)):
                    found.append(name)
        return sorted(found)

    # -- the warehouse's own state ------------------------------------------------------------------------------
    def state_uri(self, *parts: str) -> str:
        """Return a location in the warehouse's own folder, `_lakehouse/` (the lease, run logs, dbt's record)."""
        return self.uri("_lakehouse", *parts)

    def tool_dir(self, tool: str) -> Path:
        """Return the local folder a tool (dbt, superset) keeps its working files in for this warehouse:
        `_lakehouse/<tool>/` of a local warehouse; for one on S3, where the tools cannot keep files, the stack's state
        directory, under the warehouse's name."""
        if self.is_s3:
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", self.root.removeprefix("s3://")).strip("_")
            return Path(self.settings.stack_dir).resolve() / tool / name
        return Path(self.root).resolve() / "_lakehouse" / tool

    def clear_chart_cache(self) -> None:
        """Forget the dashboards' cached chart results (Superset's file cache), so they answer from new data.

        The files go, the folder stays: Superset's file cache makes its folder only when it starts."""
        folder = self.tool_dir("superset") / "chart-cache"
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.is_file():
                    entry.unlink(missing_ok=True)

    # -- landing zone ---------------------------------------------------------------------------------------------
    def landing_dir(self, entity: str, day: date | None = None) -> str:
        """Return the landing folder of an entity, or of one day's batch of it."""
        base = self.uri("landing", entity)
        return f"{base}/dt={day.isoformat()}" if day else base

    def landing_file(self, entity: str, day: date, extension: str) -> str:
        """Return the URI of the file one day's batch of `entity` lands in."""
        return f"{self.landing_dir(entity, day)}/{entity}_{day:%Y%m%d}.{extension}"

    def generator_dir(self, *parts: str) -> str:
        """Return a location under the generator's own folder (state, manifests)."""
        return self.uri("landing", "_generator", *parts)

    def _entries(self, uri: str) -> list[pafs.FileInfo]:
        """Return what a folder holds, hidden names (a writer's temporary files) left out; none when it is missing
        or is a file."""
        selector = pafs.FileSelector(self.fs_path(uri), allow_not_found=True)
        try:
            infos = self.fs.get_file_info(selector)
        except NotADirectoryError:
            return []
        return [i for i in infos if not i.base_name.startswith(".")]

    def landing_days(self, entity: str) -> list[date]:
        """Return the days that have a landing batch for `entity`, oldest first. Folders that are not a day's
        (`unrecognised_landing` says why) are left out."""
        days = []
        for info in self._entries(self.landing_dir(entity)):
            if info.type == pafs.FileType.Directory:
                try:
                    days.append(landing_day(info.base_name))
                except ValueError:
                    continue
        return sorted(days)

    def _is_file(self, uri: str) -> bool:
        return self.fs.get_file_info(self.fs_path(uri)).type == pafs.FileType.File

    def unrecognised_landing(self, entity: str) -> list[Unrecognised]:
        """Return what `landing/<entity>/` holds besides day folders (`dt=YYYY-MM-DD`), each with why it is not read."""
        base = self.landing_dir(entity)
        if self._is_file(base):
            return [Unrecognised(base, "a file where the feed's folder belongs")]
        found = []
        for info in self._entries(base):
            uri = self.from_fs_path(info.path)
            if info.type != pafs.FileType.Directory:
                found.append(Unrecognised(uri, "a file outside a dt=YYYY-MM-DD folder"))
                continue
            try:
                landing_day(info.base_name)
            except ValueError as exc:
                found.append(Unrecognised(uri, f"not a day's folder: {exc}"))
        return sorted(found, key=lambda u: u.uri)

    def unknown_landing_feeds(self, feeds: Sequence[str]) -> list[Unrecognised]:
        """Return what `landing/` holds besides the folders of `feeds` and the generator's, each with why."""
        if self._is_file(self.uri("landing")):
            return [Unrecognised(self.uri("landing"), "a file where the landing folder belongs")]
        known = {*feeds, GENERATOR_DIR}
        found = [
            Unrecognised(self.from_fs_path(info.path), f"not a feed (the feeds are {', '.join(feeds)})")
            for info in self._entries(self.uri("landing"))
            if info.base_name not in known
        ]
        return sorted(found, key=lambda u: u.uri)

    def landing_listing(self, entity: str) -> list[LandingFile]:
        """Return every file of every day folder of `entity` (one listing of the feed's folder), sorted by URI."""
        base = self.fs_path(self.landing_dir(entity)).rstrip("/")
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(base, allow_not_found=True, recursive=True))
        except NotADirectoryError:
            return []
        found = []
        for info in infos:
            folder, _, name = info.path[len(base) + 1 :].rpartition("/")
            if info.type != pafs.FileType.File or name.startswith(".") or "/" in folder:
                continue  # a day folder's own files only: no nested folders, no writer's temporary files
            try:
                day = landing_day(folder)
            except ValueError:
                continue  # not a day's folder: `unrecognised_landing` names it
            modified = info.mtime or datetime.fromtimestamp(0, UTC)
            found.append(LandingFile(self.from_fs_path(info.path), day, info.size or 0, modified.astimezone(UTC)))
        return sorted(found, key=lambda f: f.uri)

    def landing_files(self, entity: str, day: date) -> list[str]:
        """Return the URIs of the files in one day's landing batch, sorted by name."""
        selector = pafs.FileSelector(self.fs_path(self.landing_dir(entity, day)), allow_not_found=True)
        infos = self.fs.get_file_info(selector)
        paths = sorted(i.path for i in infos if i.type == pafs.FileType.File and not i.base_name.startswith("."))
        return [self.from_fs_path(p) for p in paths]

    # -- file access ------------------------------------------------------------------------------------------------
    @cached_property
    def fs(self) -> pafs.FileSystem:
        """Return a pyarrow filesystem for the warehouse (local disk or S3)."""
        if not self.is_s3:
            return pafs.LocalFileSystem()
        return self.settings.s3.pyarrow()

    def fs_path(self, uri: str) -> str:
        """Return `uri` as a path for `self.fs` (no scheme)."""
        return uri[len("s3://") :] if uri.startswith("s3://") else uri

    def from_fs_path(self, path: str) -> str:
        return f"s3://{path}" if self.is_s3 else path

    def spark_uri(self, uri: str) -> str:
        """Return `uri` the way Spark's Hadoop filesystems name it (s3a:// for S3)."""
        return "s3a://" + uri[len("s3://") :] if uri.startswith("s3://") else uri

    def exists(self, uri: str) -> bool:
        return self.fs.get_file_info(self.fs_path(uri)).type != pafs.FileType.NotFound

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write a whole file atomically enough for a landing zone: to a temporary name, then move."""
        path = self.fs_path(uri)
        parent = path.rsplit("/", 1)[0]
        self.fs.create_dir(parent, recursive=True)
        if self.is_s3:  # an S3 PUT is atomic already
            with self.fs.open_output_stream(path) as out:
                out.write(data)
            return
        tmp = f"{parent}/.{path.rsplit('/', 1)[1]}.tmp"
        with self.fs.open_output_stream(tmp) as out:
            out.write(data)
        self.fs.move(tmp, path)

    def read_bytes(self, uri: str, limit: int | None = None) -> bytes:
        """Return a file's bytes as stored (never decompressed because of its name), or its first `limit` bytes."""
        with self.fs.open_input_stream(self.fs_path(uri), compression=None) as stream:
            return stream.read(limit)

    def iter_bytes(self, uri: str, size: int = 1 << 20) -> Iterator[bytes]:
        """Yield a file's bytes as stored, `size` at a time, so a large file is never held whole."""
        with self.fs.open_input_stream(self.fs_path(uri), compression=None) as stream:
            while chunk := stream.read(size):
                yield chunk

    def require_exists(self) -> None:
        """Raise a UserError when the warehouse has never been written to."""
        if not self.exists(self.root):
            raise UserError(
                f"no warehouse at {self.root}: run `lakehouse generate` first, "
                "or point LAKEHOUSE_WAREHOUSE at an existing warehouse"
            )

"""Where everything lives. The only module that turns names into locations.

A warehouse is a root URI, either a local directory or `s3://bucket/prefix`. Under it:

    landing/<entity>/dt=YYYY-MM-DD/<entity>_YYYYMMDD.<ext>   files as the shop's systems drop them
    landing/_generator/                                       the synthetic generator's state and manifests
    <layer>/<table>/                                          Delta tables: bronze, silver, gold, ops
    _lakehouse/                                               logs and other run artefacts

Local and S3 differ only in the root and the storage options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import pyarrow.fs as pafs

from lakehouse.errors import UserError
from lakehouse.settings import Settings

LAYERS = ("bronze", "silver", "gold", "ops")
_TABLE_NAME = re.compile(r"^(?P<layer>[a-z]+)\.(?P<table>[a-z][a-z0-9_]*)$")
# dbt's own working relations (an incremental model's new rows, a table being replaced), dropped after each build.
_DBT_WORK = re.compile(r"__dbt_(tmp|backup)$")
_DAY_DIR = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")


def parse_table_name(name: str) -> tuple[str, str]:
    """Return (layer, table) for a name like `silver.orders`, or raise a UserError saying what is wrong."""
    match = _TABLE_NAME.match(name)
    if not match or match["layer"] not in LAYERS:
        raise UserError(f"{name!r} is not a table name: use <layer>.<table> with a layer of {', '.join(LAYERS)}")
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

    def tables(self) -> list[str]:
        """Return every Delta table under the root (a folder with a `_delta_log`), as `layer.table`, sorted."""
        found = []
        for layer in LAYERS:
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

    def landing_days(self, entity: str) -> list[date]:
        """Return the days that have a landing batch for `entity`, oldest first."""
        selector = pafs.FileSelector(self.fs_path(self.landing_dir(entity)), allow_not_found=True)
        days = []
        for info in self.fs.get_file_info(selector):
            match = _DAY_DIR.match(info.base_name)
            if info.type == pafs.FileType.Directory and match:
                days.append(date.fromisoformat(match[1]))
        return sorted(days)

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

    def read_bytes(self, uri: str) -> bytes:
        with self.fs.open_input_stream(self.fs_path(uri)) as stream:
            return stream.read()

    def require_exists(self) -> None:
        """Raise a UserError when the warehouse has never been written to."""
        if not self.exists(self.root):
            raise UserError(
                f"no warehouse at {self.root}: run `lakehouse generate` first, "
                "or point LAKEHOUSE_WAREHOUSE at an existing warehouse"
            )

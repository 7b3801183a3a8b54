"""The stack's JVM parts, pinned in `infra/maven-artifacts.txt` and fetched with `mvn` into a cache outside the repo.

`fetch()` brings what is missing (the first time: Trino ~820 MB, the Spark jars ~700 MB) and lays Trino out with
only the plugins the lakehouse uses; everything else reads the cache and never downloads: a run that finds an
artifact missing says which command fetches it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lakehouse.errors import UserError

INFRA = Path(__file__).resolve().parents[2] / "infra"
ARTIFACTS_FILE = INFRA / "maven-artifacts.txt"

# Trino plugins the stack loads: the Delta Lake connector, and password authentication for the compose stack.
TRINO_PLUGINS = ("delta-lake", "password-authenticators")


@dataclass(frozen=True)
class Artifact:
    """One Maven artifact: group:artifact:version:type, and the part of the stack that uses it."""

    group: str
    name: str
    version: str
    kind: str
    used_by: str

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.name}:{self.version}:{self.kind}"

    @property
    def file_name(self) -> str:
        return f"{self.name}-{self.version}.{self.kind}"


def artifacts(path: Path = ARTIFACTS_FILE) -> list[Artifact]:
    """Return the pinned artifacts, in file order."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            coordinates, used_by = text.split()
            group, name, version, kind = coordinates.split(":")
        except ValueError:
            raise UserError(f"{path}:{number}: expected 'group:artifact:version:type  used-by', got {line!r}") from None
        found.append(Artifact(group, name, version, kind, used_by))
    return found


def _by_user(used_by: str) -> list[Artifact]:
    return [a for a in artifacts() if a.used_by == used_by]


def _trino() -> Artifact:
    (server,) = _by_user("trino")
    return server


def maven_dir(cache: Path) -> Path:
    return cache / "maven"


def trino_home(cache: Path) -> Path:
    """Return where the Trino server is laid out (bin/, lib/ and the plugins the stack uses)."""
    server = _trino()
    return cache / f"{server.name}-{server.version}"


def spark_jars(cache: Path) -> list[str]:
    """Return the local jar files Spark needs for delta-spark and s3a, or raise a UserError naming the fix."""
    directory = Path(os.environ["LAKEHOUSE_SPARK_JARS_DIR"]) if os.environ.get("LAKEHOUSE_SPARK_JARS_DIR") else None
    directory = directory or maven_dir(cache)
    jars = [directory / a.file_name for a in _by_user("spark")]
    missing = [j.name for j in jars if not j.is_file()]
    if missing:
        raise UserError(
            f"the delta-spark jars are missing from {directory} ({', '.join(missing)}): run `lakehouse stack fetch`"
        )
    return [str(j) for j in jars]


def missing(cache: Path) -> list[Artifact]:
    """Return the artifacts not yet in the cache (Trino counts as present once it is laid out)."""
    absent = []
    for artifact in artifacts():
        if artifact.used_by == "trino":
            if not (trino_home(cache) / "bin" / "launcher").is_file():
                absent.append(artifact)
        elif not (maven_dir(cache) / artifact.file_name).is_file():
            absent.append(artifact)
    return absent


def _mvn(artifact: Artifact, target: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise UserError("fetching the stack's jars needs Maven: apt-get install -y maven")
    command = [mvn, "-B", "-q", "dependency:copy", f"-Dartifact={artifact.coordinates}", f"-DoutputDirectory={target}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not (target / artifact.file_name).is_file():
        errors = [line for line in (done.stdout + done.stderr).splitlines() if "ERROR" in line][:3]
        detail = " ".join(errors) or f"exit code {done.returncode}"
        raise UserError(f"could not fetch {artifact.coordinates} with mvn: {detail[:500]}")


def _lay_out_trino(archive: Path, home: Path) -> None:
    """Unpack the server's launcher, libraries and the plugins the stack uses (a quarter of the archive)."""
    staging = home.with_name(home.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    keep = ("bin/", "lib/", *(f"plugin/{p}/" for p in TRINO_PLUGINS))
    with tarfile.open(archive) as tar:
        # Member names keep the archive's top folder: its hard links name their targets that way.
        members = [m for m in tar.getmembers() if m.name.partition("/")[2].startswith(keep)]
        tar.extractall(staging, members=members, filter="tar")
    (top,) = {m.name.partition("/")[0] for m in members}
    (staging / top).rename(home)
    staging.rmdir()


def fetch(cache: Path, say: Callable[[str], None] = print) -> list[Artifact]:
    """Fetch every missing artifact into `cache` and lay Trino out; return what was fetched."""
    absent = missing(cache)
    target = maven_dir(cache)
    target.mkdir(parents=True, exist_ok=True)
    for artifact in absent:
        say(f"fetching {artifact.coordinates} with mvn …")
        _mvn(artifact, target)
        if artifact.used_by == "trino":
            say(f"unpacking Trino {artifact.version} (launcher, libraries, plugins {', '.join(TRINO_PLUGINS)}) …")
            archive = target / artifact.file_name
            _lay_out_trino(archive, trino_home(cache))
            archive.unlink()  # Maven's own repository keeps a copy
    return absent

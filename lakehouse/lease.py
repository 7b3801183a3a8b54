"""One writer per warehouse: the lease a command holds while it writes tables.

Two runs writing one warehouse at once double rows for good (both merge the same batches). So every command that
writes tables (`lakehouse run`, `lakehouse run --watch`, `lakehouse maintain`, the jobs/ scripts) first takes the
warehouse's lease and gives it back when it ends, also on failure and on Ctrl-C. Commands that only read
(`status`, `sql`, `superset`) never touch it.

The lease is one small JSON document, `<warehouse>/_lakehouse/lease.json`, that names its holder:

    {"host": "host-a", "pid": 1234, "process_start": 8812345, "command": "lakehouse run",
     "run_id": "20261206T100211-1a2b3c", "token": "9f0c…", "since": "2026-12-06T10:02:11.412345+00:00",
     "heartbeat": "2026-12-06T10:04:41.415012+00:00", "renew_seconds": 30.0, "stale_after_seconds": 90.0}

`token` is new for every holder; `process_start` is the holder process's start time in clock ticks since boot
(Linux), so a reused pid is not mistaken for the holder. While it holds the lease, a background thread renews the
heartbeat every `renew_seconds`.

Every change of the document is a compare-and-swap on the version last read:
- on S3, taking a free lease is a PUT with `If-None-Match: *`; renewing, taking over and releasing are a PUT or
  DELETE with `If-Match: <ETag>`. The server decides who wins. A server that ignores either condition is refused
  (checked on every take).
- on a local disk, the same four operations run under an exclusive `flock` of `_lakehouse/lease.lock`, which makes
  each read-compare-write atomic on the machine; the version is the document's SHA-256, and the document is
  replaced by an atomic rename. The kernel drops the lock when its process dies, so a crash cannot leave it held.

A lease is stale, and the next command takes it over, when its holder is on this host and its process is gone (at
once), or when its heartbeat is older than its `stale_after_seconds` (three renewals; from any host).

What holds:
- At most one holder at a time. Of two commands that find the same stale lease, only one replaces it: the other's
  conditional write fails, and it sees the winner's fresh lease.
- A holder that finds at a renewal that its lease was taken over (it was paused for longer than the stale bound,
  or could not reach S3 that long) stops its run: `hold` interrupts the main thread, and the command ends with a
  one-line error.
- A holder killed outright (SIGKILL, a power cut) leaves its lease behind; on the same host the next command takes
  it over at once, from another host after the stale bound.

What does not hold:
- The lease does not fence the writes themselves: a process paused for longer than the stale bound (SIGSTOP, a
  frozen VM, a laptop asleep) can wake and commit before its next renewal finds the lease gone.
- Staleness across hosts compares the holder's clock with the reader's: clocks must agree to well within the bound.
- A writer that does not take the lease (`lakehouse dbt build`, a hand-written Spark job, an older lakehouse) is not
  stopped by it.
- On S3 the requests are signed with the keys of the settings (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); no other
  source of AWS credentials (session tokens, instance roles) is read.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from lakehouse.errors import UserError
from lakehouse.s3 import S3
from lakehouse.warehouse import Warehouse

log = logging.getLogger(__name__)

RENEW_SECONDS = 30.0
# A holder that missed this many renewals in a row is taken for dead.
STALE_RENEWALS = 3
# How often a command waiting for the lease looks again.
POLL_SECONDS = 0.5
# An S3 request that gets no answer in this long fails (and is tried again at the next renewal).
S3_TIMEOUT_SECONDS = 10.0


def lease_uri(warehouse: Warehouse) -> str:
    """Return the URI of the warehouse's lease document."""
    return warehouse.state_uri("lease.json")


# -- the holder ---------------------------------------------------------------------------------------------------
def _proc_stat(pid: int) -> tuple[str, int] | None:
    """Return the state letter of process `pid` and when it started (clock ticks since boot), from Linux's /proc;
    None where that cannot be read."""
    try:
        fields_after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
        return fields_after_name[0], int(fields_after_name[19])
    except (OSError, IndexError, ValueError):
        return None


def _process_start(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def _process_running(pid: int, started: int | None) -> bool:
    """Return whether process `pid` runs on this host, and is the one that started at `started` (when known)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process, whose /proc entry may be hidden
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc to tell more
    state, start = stat
    if state == "Z":  # it has exited; only its parent has not collected it yet
        return False
    return started is None or start == started


def _clock(moment: datetime) -> str:
    """Return a time as the refusal message shows it: the time of day in UTC, with the date unless it is today."""
    today = datetime.now(UTC).date()
    return f"{moment:%H:%M:%S} UTC" if moment.date() == today else f"{moment:%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True)
class Holder:
    """Who holds a lease (host, pid, command, run), since when, and when it last said it was alive."""

    host: str
    pid: int
    command: str
    token: str
    since: datetime
    heartbeat: datetime
    renew_seconds: float = RENEW_SECONDS
    stale_after_seconds: float = STALE_RENEWALS * RENEW_SECONDS
    process_start: int | None = None
    run_id: str | None = None

    @classmethod
    def this_process(cls, command: str, renew_seconds: float, stale_after_seconds: float) -> Holder:
        """Return a new holder record for this process, with a fresh token."""
        now = datetime.now(UTC)
        return cls(
            host=socket.gethostname(),
            pid=os.getpid(),
            command=command,
            token=uuid.uuid4().hex,
            since=now,
            heartbeat=now,
            renew_seconds=renew_seconds,
            stale_after_seconds=stale_after_seconds,
            process_start=_process_start(os.getpid()),
        )

    def to_bytes(self) -> bytes:
        record = asdict(self) | {"since": self.since.isoformat(), "heartbeat": self.heartbeat.isoformat()}
        return json.dumps(record, indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Holder:
        """Return the holder a lease document names; raise ValueError when it is not a lease document."""
        try:
            record = json.loads(data)
            record["since"] = datetime.fromisoformat(record["since"])
            record["heartbeat"] = datetime.fromisoformat(record["heartbeat"])
            known = {f.name for f in fields(cls)}  # a field a newer lakehouse added is no reason to refuse
            holder = cls(**{k: v for k, v in record.items() if k in known})
        except (TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"not a lease document: {exc}") from None
        if not (isinstance(holder.pid, int) and isinstance(holder.host, str) and isinstance(holder.token, str)):
            raise ValueError("not a lease document: host, pid or token of the wrong type")
        if holder.heartbeat.tzinfo is None:
            raise ValueError("not a lease document: a heartbeat without a time zone")
        return holder

    def stale_reason(self, now: datetime | None = None) -> str | None:
        """Return why this holder is taken for dead (its process is gone, or its heartbeat is too old), else None."""
        if self.host == socket.gethostname() and not _process_running(self.pid, self.process_start):
            return f"pid {self.pid} on this host has exited"
        silent = ((now or datetime.now(UTC)) - self.heartbeat).total_seconds()
        if silent > self.stale_after_seconds:
            return f"no heartbeat for {silent:.0f}s (renewed every {self.renew_seconds:g}s)"
        return None

    def describe(self) -> str:
        """Return `pid 1234 on host-a since 10:02:11 UTC (lakehouse run, run <id>)`."""
        what = self.command + (f", run {self.run_id}" if self.run_id else "")
        return f"pid {self.pid} on {self.host} since {_clock(self.since)} ({what})"


# -- where the lease document lives ---------------------------------------------------------------------------------
# One document with versions, every write conditional on the version the writer last saw. Both stores answer
# read() -> (document, version) or None; create(data) and replace(data, version) -> the new version, or None when
# there is a document / it is not at `version`; delete(version) -> whether it removed the document.


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class _LocalStore:
    """The lease document as a file; each operation holds an exclusive flock of the lock file beside it."""

    path: Path

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held for microseconds; closing the file drops it
            yield
        finally:
            os.close(fd)

    def _current(self) -> tuple[bytes, str] | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return data, _sha256(data)

    def _write(self, data: bytes) -> str:
        """Replace the file in one rename, so a reader sees the old document or the new one, never half of one."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        return _sha256(data)

    def read(self) -> tuple[bytes, str] | None:
        return self._current()

    def create(self, data: bytes) -> str | None:
        with self._locked():
            return None if self._current() is not None else self._write(data)

    def replace(self, data: bytes, version: str) -> str | None:
        with self._locked():
            current = self._current()
            return self._write(data) if current is not None and current[1] == version else None

    def delete(self, version: str) -> bool:
        with self._locked():
            current = self._current()
            if current is None or current[1] != version:
                return False
            self.path.unlink()
            return True


def _error_code(body: bytes) -> str | None:
    """Return the `<Code>` of an S3 error answer (NoSuchKey, PreconditionFailed, ...), or None."""
    found = re.search(rb"<Code>([^<]*)</Code>", body)
    return found[1].decode() if found else None


def _signature_headers(s3: S3, method: str, host: str, path: str, body: bytes) -> dict[str, str]:
    """Return the headers that sign an S3 request without a query string (AWS Signature Version 4)."""
    payload = _sha256(body)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": stamp}
    if not (s3.access_key and s3.secret_key):
        return headers  # an S3 server that needs no keys
    names = ";".join(sorted(headers))
    canonical = "\n".join([method, path, "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", names, payload])
    scope = f"{stamp[:8]}/{s3.region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, _sha256(canonical.encode())])
    key = f"AWS4{s3.secret_key}".encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    credential = f"Credential={s3.access_key}/{scope}, SignedHeaders={names}, Signature={signature}"
    return headers | {"authorization": f"AWS4-HMAC-SHA256 {credential}"}


@dataclass(frozen=True)
class _S3Store:
    """The lease document as an S3 object, written only with conditional requests (the version is its ETag).

    pyarrow, the warehouse's client for plain files, cannot send conditions, so this speaks the three requests it
    needs itself: signed with the warehouse's keys, from the standard library.
    """

    s3: S3
    bucket: str
    key: str

    def _where(self) -> tuple[str, str, str]:
        """Return (scheme, host, path) of the object, path-style or virtual-hosted as the settings say."""
        parts = urlsplit(self.s3.endpoint or f"https://s3.{self.s3.region}.amazonaws.com")
        path = "/" + quote(self.key, safe="/-_.~")
        if self.s3.path_style:
            return parts.scheme, parts.netloc, f"/{self.bucket}{path}"
        return parts.scheme, f"{self.bucket}.{parts.netloc}", path

    def _request(self, method: str, body: bytes = b"", **conditions: str) -> tuple[int, str | None, bytes]:
        """Send one request; return (status, ETag, body). Raise OSError when the server cannot be reached."""
        scheme, host, path = self._where()
        headers = _signature_headers(self.s3, method, host, path, body)
        headers |= {name.replace("_", "-"): value for name, value in conditions.items()}
        request = urllib.request.Request(
            f"{scheme}://{host}{path}", data=body if method == "PUT" else None, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=S3_TIMEOUT_SECONDS) as response:
                return response.status, response.headers.get("ETag"), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, None, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise OSError(f"S3 at {scheme}://{host} did not answer a {method}: {reason}") from None

    def _fail(self, method: str, status: int, body: bytes) -> OSError:
        detail = _error_code(body) or body[:200].decode(errors="replace")
        return OSError(f"S3 answered {method} s3://{self.bucket}/{self.key} with {status} {detail}".rstrip())

    def read(self) -> tuple[bytes, str] | None:
        status, etag, body = self._request("GET")
        if status == 404 and _error_code(body) != "NoSuchBucket":
            return None
        if status != 200 or not etag:
            raise self._fail("GET", status, body)
        return body, etag

    def _put(self, data: bytes, **conditions: str) -> str | None:
        status, etag, body = self._request("PUT", data, **conditions)
        # 412: the condition does not hold; 409: a conditional write to the object was in flight (AWS: try again);
        # 404 to an If-Match: the object is gone.
        if status in (409, 412) or (status == 404 and "if_match" in conditions and _error_code(body) == "NoSuchKey"):
            return None
        if status != 200:
            raise self._fail("PUT", status, body)
        return etag or self._etag_of(data)

    def _etag_of(self, data: bytes) -> str | None:
        """Return the ETag of the object if it still holds `data` (a server that answered a PUT without one)."""
        found = self.read()
        return found[1] if found and found[0] == data else None

    def create(self, data: bytes) -> str | None:
        return self._put(data, if_none_match="*")

    def replace(self, data: bytes, version: str) -> str | None:
        return self._put(data, if_match=version)

    def delete(self, version: str) -> bool:
        status, _, body = self._request("DELETE", if_match=version)
        if status in (409, 412) or (status == 404 and _error_code(body) != "NoSuchBucket"):
            return False
        if status not in (200, 204):
            raise self._fail("DELETE", status, body)
        return True

    def check_conditions(self, data: bytes, version: str) -> None:
        """Raise a UserError unless the server refuses a create over an object and a replace of the wrong version.

        Both probes write the bytes the object already holds, so a server that ignores them changes nothing.
        """
        bogus = '"' + "0" * 32 + '"'
        if self._put(data, if_none_match="*") is not None or self._put(data, if_match=bogus) is not None:
            endpoint = self.s3.endpoint or "AWS S3"
            raise UserError(
                f"the S3 server at {endpoint} ignores conditional writes (If-None-Match / If-Match), so it cannot "
                "keep two runs from writing one warehouse: use an S3 server that honours them (SeaweedFS, MinIO, AWS)"
            )


def _store(warehouse: Warehouse) -> _LocalStore | _S3Store:
    """Return where the warehouse keeps its lease document."""
    path = warehouse.fs_path(lease_uri(warehouse))
    if not warehouse.is_s3:
        return _LocalStore(Path(path))
    bucket, key = path.split("/", 1)
    return _S3Store(warehouse.settings.s3, bucket, key)


# -- the lease ----------------------------------------------------------------------------------------------------
def _busy(warehouse: Warehouse, holder: Holder, waited: float) -> str:
    """Return the one line that refuses a command because `holder` writes the warehouse."""
    what = "wait for it (--wait SECONDS)" if not waited else f"waited {waited:g}s; wait longer (--wait SECONDS)"
    return f"the warehouse {warehouse.root} is being written by {holder.describe()}; {what}, or stop it"


class Lease:
    """The warehouse's write lease for one command: `acquire` takes it (waiting a bounded time, taking over a stale
    one), a daemon thread renews it, `release` gives it back. `lost` says why it was lost, if it was."""

    def __init__(
        self,
        warehouse: Warehouse,
        command: str,
        *,
        renew_seconds: float = RENEW_SECONDS,
        stale_after_seconds: float | None = None,
        on_lost: Callable[[str], None] = lambda reason: None,
    ):
        self.warehouse = warehouse
        self.uri = lease_uri(warehouse)
        self.command = command
        self.renew_seconds = renew_seconds
        self.stale_after_seconds = stale_after_seconds or round(STALE_RENEWALS * renew_seconds, 3)
        self.on_lost = on_lost
        self.lost: str | None = None
        self._store = _store(warehouse)
        self._holder: Holder | None = None
        self._version: str | None = None
        self._lock = threading.Lock()  # the heartbeat thread and the command's own thread both write the lease
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def holder(self) -> Holder | None:
        """Return this lease's holder record while it is held, else None."""
        return self._holder

    # -- taking it ---------------------------------------------------------------------------------------------------
    def acquire(self, wait: float = 0.0) -> Holder:
        """Take the lease, waiting up to `wait` seconds for its holder; return the record written.

        Raise a UserError naming the holder when it is still held after `wait`, or when the lease cannot be read or
        written.
        """
        if self._holder is not None:
            raise RuntimeError(f"{self.uri} is held by this lease already")
        deadline = time.monotonic() + wait
        try:
            while True:
                mine = Holder.this_process(self.command, self.renew_seconds, self.stale_after_seconds)
                if (version := self._attempt(mine)) is not None:
                    return self._took(mine, version)
                current = self._current()
                if current is None:
                    continue  # given back a moment ago: try again at once
                if time.monotonic() >= deadline:
                    raise UserError(_busy(self.warehouse, current, wait))
                time.sleep(max(0.0, min(POLL_SECONDS, deadline - time.monotonic())))
        except OSError as exc:
            raise UserError(
                f"cannot take the write lease of the warehouse {self.warehouse.root} ({self.uri}): {exc}"
            ) from None

    def _attempt(self, mine: Holder) -> str | None:
        """Write `mine` if the lease is free or stale; return its version, or None when someone else holds it."""
        version = self._store.create(mine.to_bytes())
        if version is not None:
            return version
        found = self._store.read()
        if found is None:
            return None  # given back since: the next attempt creates it
        current = self._parse(found[0])
        reason = current.stale_reason()
        if reason is None:
            return None
        version = self._store.replace(mine.to_bytes(), found[1])
        if version is not None:
            log.warning(
                "took over the lease of the warehouse %s from %s: %s", self.warehouse.root, current.describe(), reason
            )
        return version

    def _current(self) -> Holder | None:
        found = self._store.read()
        return self._parse(found[0]) if found else None

    def _parse(self, data: bytes) -> Holder:
        try:
            return Holder.from_bytes(data)
        except ValueError:
            raise UserError(
                f"{self.uri} is not a lease this lakehouse wrote, so it cannot tell who writes the warehouse: if no "
                "run is writing it, delete that file and try again"
            ) from None

    def _took(self, mine: Holder, version: str) -> Holder:
        if isinstance(self._store, _S3Store):
            try:
                self._store.check_conditions(mine.to_bytes(), version)
            except (UserError, OSError):
                with suppress(OSError):
                    self._store.delete(version)
                raise
        self._holder, self._version, self.lost = mine, version, None
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"lease heartbeat {self.uri}", daemon=True)
        self._thread.start()
        return mine

    # -- keeping it --------------------------------------------------------------------------------------------------
    def renew(self) -> bool:
        """Write a new heartbeat; return False when the lease is no longer this holder's (it was taken over).

        Raise OSError when the store cannot be reached (the heartbeat thread tries again).
        """
        with self._lock:
            if self._holder is None or self.lost:
                return False
            beat = replace(self._holder, heartbeat=datetime.now(UTC))
            version = self._store.replace(beat.to_bytes(), self._version or "")
            if version is None:
                # Our previous write may have happened without its answer reaching us: the token tells.
                found = self._store.read()
                if found is None or self._token(found[0]) != beat.token:
                    self._lose(found)
                    return False
                version = self._store.replace(beat.to_bytes(), found[1])
                if version is None:
                    self._lose(self._store.read())
                    return False
            self._holder, self._version = beat, version
            return True

    @staticmethod
    def _token(data: bytes) -> str | None:
        try:
            return Holder.from_bytes(data).token
        except ValueError:
            return None

    def _lose(self, found: tuple[bytes, str] | None) -> None:
        now = "nobody" if found is None else self._describe(found[0])
        self.lost = (
            f"the write lease of the warehouse {self.warehouse.root} was taken over while this run held it (now held "
            f"by {now}): another run may have written the warehouse at the same time; check it with `lakehouse "
            "status`, then run again"
        )
        self.on_lost(self.lost)

    @staticmethod
    def _describe(data: bytes) -> str:
        try:
            return Holder.from_bytes(data).describe()
        except ValueError:
            return "an unreadable lease"

    def _beat(self) -> None:
        """Renew every `renew_seconds` until released or lost; when the store cannot be reached, try sooner."""
        pause = self.renew_seconds
        while not self._stop.wait(pause):
            try:
                if not self.renew():
                    return
                pause = self.renew_seconds
            except OSError as exc:
                log.warning("could not renew the lease of the warehouse %s (will try again): %s", self.uri, exc)
                pause = min(self.renew_seconds, 5.0)

    def note_run(self, run_id: str) -> None:
        """Record the run now going on in the lease (best effort: the next heartbeat writes it otherwise)."""
        with self._lock:
            if self._holder is not None:
                self._holder = replace(self._holder, run_id=run_id)
        with suppress(OSError):
            self.renew()

    def check(self) -> None:
        """Raise a UserError when the lease was taken over while this command held it."""
        if self.lost:
            raise UserError(self.lost)

    # -- giving it back ------------------------------------------------------------------------------------------------
    def release(self) -> None:
        """Stop the heartbeat and remove the lease if it is still this holder's; never raises for the store."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            holder, version, self._holder, self._version = self._holder, self._version, None, None
            if holder is None or version is None or self.lost:
                return
            try:
                if not self._store.delete(version):
                    found = self._store.read()
                    if found is not None and self._token(found[0]) == holder.token:
                        self._store.delete(found[1])
            except OSError as exc:
                log.warning(
                    "could not give back the lease of the warehouse %s (%s); the next run takes it over once it is "
                    "stale",
                    self.warehouse.root,
                    exc,
                )


def current_holder(warehouse: Warehouse) -> Holder | None:
    """Return who holds the warehouse's lease (stale or not), or None when nobody does. For `lakehouse status`."""
    found = _store(warehouse).read()
    if found is None:
        return None
    try:
        return Holder.from_bytes(found[0])
    except ValueError:
        return None


def _interrupt_main_thread(reason: str) -> None:
    """Stop the command as Ctrl-C would: a real SIGINT to the main thread also ends a system call it waits in."""
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


@contextmanager
def hold(
    warehouse: Warehouse, command: str, wait: float = 0.0, *, renew_seconds: float = RENEW_SECONDS
) -> Iterator[Lease]:
    """Hold the warehouse's lease while the block runs, and give it back however the block ends.

    If the lease is taken over meanwhile, the main thread is interrupted (as by Ctrl-C) and the block ends with a
    UserError saying so.
    """
    lease = Lease(warehouse, command, renew_seconds=renew_seconds, on_lost=_interrupt_main_thread)
    lease.acquire(wait)
    try:
        yield lease
        lease.check()
    except KeyboardInterrupt:
        lease.check()
        raise
    finally:
        lease.release()

"""Rust panic text kept off the console: delta-rs can print a panic for an error it also raises to Python.

When an upload to the object store fails, a worker thread of delta-rs's runtime may panic while it cleans up
(`thread 'tokio-rt-worker' panicked at ...: Already shut down`) and Rust prints that to the process's stderr, before
the Python error that the pipeline handles and reports in one line. While `kept_off_console()` is active, everything
written to stderr passes through a filter that holds such panics back; `held()` returns them for the run's log.
With RUST_BACKTRACE set (someone debugging delta-rs), nothing is held back.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator

_PANIC = re.compile(rb"^thread '[^']*'(?: \(\d+\))? panicked at ")
_NOTE = re.compile(rb"^note: run with `RUST_BACKTRACE=")
_held: list[str] = []
_lock = threading.Lock()


def held() -> list[str]:
    """Return the panic messages held back so far in this process, oldest first."""
    with _lock:
        return list(_held)


def _hold(lines: list[bytes]) -> None:
    with _lock:
        _held.append(b"".join(lines).decode("utf-8", "replace").rstrip("\n"))


def _forward(source: int, target: int) -> None:
    """Copy lines from `source` to `target`, holding back each panic: its first line, its message line and the
    note about RUST_BACKTRACE that follows the first one."""
    panic: list[bytes] = []
    with os.fdopen(source, "rb", buffering=0) as lines:
        for line in iter(lines.readline, b""):
            if panic and (len(panic) < 2 or _NOTE.match(line)):
                panic.append(line)
                continue
            if panic:
                _hold(panic)
                panic = []
            if _PANIC.match(line):
                panic = [line]
            else:
                os.write(target, line)
    if panic:
        _hold(panic)


@contextlib.contextmanager
def kept_off_console() -> Iterator[None]:
    """Hold back Rust panic text from this process's stderr (file descriptor 2) until the block ends."""
    if os.environ.get("RUST_BACKTRACE"):
        yield
        return
    console = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    # A daemon: processes started in the block (Spark's JVM) keep the pipe open after it ends.
    forwarder = threading.Thread(target=_forward, args=(read_end, console), name="stderr-filter", daemon=True)
    forwarder.start()
    try:
        yield
    finally:
        os.dup2(console, 2)  # this process's own writes go straight to the console again
        forwarder.join(timeout=0.5)  # lines already in the pipe reach the console before what follows

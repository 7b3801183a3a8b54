"""Rust panic text that delta-rs prints beside an error it raises stays off the console and goes to the run's log.

The filter works on the process's file descriptor 2, where Rust's panic hook writes: each case runs in a process of
its own, writing as Rust does (straight to the descriptor) and as a child process does (an inherited descriptor).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

PANIC = (
    "thread 'tokio-rt-worker' panicked at /cargo/object_store-0.12.3/src/buffered.rs:436:22:\n"
    "Already shut down\n"
    "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n"
)
SECOND_PANIC = "thread 'tokio-rt-worker' (4242) panicked at /cargo/tokio/src/time.rs:12:5:\nA second one\n"

SCRIPT = textwrap.dedent(
    """
    import json, os, subprocess, sys
    from lakehouse import native_panics

    panic, second = json.loads(sys.argv[1])
    with native_panics.kept_off_console():
        os.write(2, b"WARN before the panic\\n")
        os.write(2, panic.encode())
        print("a Python error line", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-c", "import os; os.write(2, b'from a child process\\\\n')"], check=True)
        os.write(2, second.encode())
        os.write(2, b"after the panics\\n")
    os.write(2, b"once the block has ended\\n")
    print(json.dumps(native_panics.held()))
    """
)


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps([PANIC, SECOND_PANIC])],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )


def test_panics_are_held_back_and_everything_else_reaches_the_console():
    env = {k: v for k, v in os.environ.items() if k != "RUST_BACKTRACE"}
    done = _run(env)
    assert done.stderr.splitlines() == [
        "WARN before the panic",
        "a Python error line",
        "from a child process",
        "after the panics",
        "once the block has ended",
    ]
    assert json.loads(done.stdout) == [PANIC.rstrip("\n"), SECOND_PANIC.rstrip("\n")]


def test_with_rust_backtrace_set_nothing_is_held_back():
    done = _run({**os.environ, "RUST_BACKTRACE": "1"})
    assert PANIC in done.stderr and SECOND_PANIC in done.stderr
    assert json.loads(done.stdout) == []

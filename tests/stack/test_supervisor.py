"""How `lakehouse stack down` stops a service: SIGTERM to its process group, SIGKILL once its grace has passed.

Real processes (a shell), no servers: these run without the stack.
"""

from __future__ import annotations

from pathlib import Path

from lakehouse.stack.supervisor import Service, Supervisor

# Ignores SIGTERM and keeps running (its `sleep`, in the same process group, dies of it each time); ready once the
# trap is set.
STUBBORN = "trap '' TERM; touch ready; while :; do sleep 0.1; done"


def _service(root: Path, script: str, **options) -> Service:
    """Return a shell service, ready once it has made the file `ready` in `root` (a supervisor's processes run in
    its root)."""
    ready = root / "ready"
    return Service("shell", lambda: (["sh", "-c", script], {}), "-", (), ready.exists, program="sh", **options)


def _started(tmp_path, service: Service) -> tuple[Supervisor, int]:
    boss = Supervisor(tmp_path)
    boss.start(service, say=lambda line: None)
    pid = boss.pid(service)
    assert pid is not None
    return boss, pid


def _running(pgid: int) -> list[int]:
    """Return the processes of a process group still running (not zombies: this test's process reaps none)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def test_a_service_that_honours_sigterm_is_stopped(tmp_path):
    service = _service(tmp_path, "touch ready; sleep 60")
    boss, pid = _started(tmp_path, service)
    assert boss.stop(service) == "stopped"
    assert not _running(pid) and boss.pid(service) is None


def test_a_service_that_ignores_sigterm_is_killed_after_its_grace(tmp_path):
    service = _service(tmp_path, STUBBORN, stop_grace=1.0)
    boss, pid = _started(tmp_path, service)
    assert boss.stop(service) == "killed (still running 1s after SIGTERM)"
    assert not _running(pid) and boss.pid(service) is None


def test_a_service_whose_kill_is_its_normal_stop_says_stopped_and_why(tmp_path):
    service = _service(tmp_path, STUBBORN, stop_grace=1.0, killed_is_normal="it keeps what it acknowledged")
    boss, pid = _started(tmp_path, service)
    assert boss.stop(service) == "stopped (killed 1s after SIGTERM: it keeps what it acknowledged)"
    assert not _running(pid)


def test_a_stop_reaches_the_whole_process_group(tmp_path):
    # A launcher that forwards nothing, as Trino's does: its child must go too.
    service = _service(tmp_path, f'sh -c "{STUBBORN}" & wait', stop_grace=1.0)
    boss, pid = _started(tmp_path, service)
    assert len(_running(pid)) >= 2  # the launcher and its child
    boss.stop(service)
    assert not _running(pid)

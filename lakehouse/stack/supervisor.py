"""Runs the stack's servers as ordinary background processes: started detached, checked for health, stopped cleanly.

Each service keeps a pid file, and a log under the stack directory (`.stack/` by default):

    .stack/run/<service>.pid    .stack/logs/<service>.log    .stack/<service>/   (its data)

A pid file is trusted only while its process is alive and still runs the service's program, so a stale file left by
a crash (or a pid reused by the system) never makes `stack down` kill the wrong process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lakehouse.errors import UserError

# How long a stopping server gets after SIGTERM before it is killed (SeaweedFS can take over 7 s).
STOP_GRACE_SECONDS = 15.0


@dataclass(frozen=True)
class Service:
    """A server of the stack: how to start it, where it answers, and how to tell it is ready."""

    name: str
    # The command line and the environment it adds, worked out only when the service starts (finding a JDK, say).
    launch: Callable[[], tuple[Sequence[str], dict[str, str]]]
    address: str  # what a client connects to, shown by `stack status`
    ports: tuple[int, ...]  # every port it listens on; the first is the one clients use
    ready: Callable[[], bool]
    program: str = ""  # a word of its command line that identifies the process (the binary's name)
    start_timeout: float = 120.0
    after_start: Callable[[], None] | None = None  # one-time set-up once it answers (a bucket, schemas)
    stop_grace: float = STOP_GRACE_SECONDS  # how long `stop` waits after SIGTERM before SIGKILL
    # Why being killed after `stop_grace` is this service's normal stop, and loses nothing; empty when it is not.
    killed_is_normal: str = ""


@dataclass
class State:
    """What `stack status` reports about one service."""

    name: str
    address: str
    state: str  # running, starting, stopped
    pid: int | None = None
    since: float | None = None
    log: str = ""


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Return whether something accepts connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


class Supervisor:
    """Starts, checks and stops the stack's services, keeping their state under `root`."""

    def __init__(self, root: Path):
        self.root = root

    def log_path(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def _pid_path(self, name: str) -> Path:
        return self.root / "run" / f"{name}.pid"

    def pid(self, service: Service) -> int | None:
        """Return the pid of the service's running process, or None (removing a stale pid file)."""
        path = self._pid_path(service.name)
        try:
            pid = int(path.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            path.unlink(missing_ok=True)
            return None
        if service.program and service.program not in cmdline:
            path.unlink(missing_ok=True)  # the process is gone and its pid now belongs to another program
            return None
        return pid

    def state(self, service: Service) -> State:
        pid = self.pid(service)
        log = str(self.log_path(service.name))
        if pid is None:
            return State(service.name, service.address, "stopped", log=log)
        since = self._pid_path(service.name).stat().st_mtime
        healthy = _safely(service.ready)
        return State(service.name, service.address, "running" if healthy else "starting", pid, since, log)

    def start(self, service: Service, say: Callable[[str], None] = print) -> State:
        """Start `service` unless it runs already, wait until it is ready, and run its one-time set-up."""
        pid = self.pid(service)
        if pid is None:
            taken = [port for port in service.ports if port_open(port)]
            if taken:
                raise UserError(
                    f"{service.name}: port {', '.join(map(str, taken))} is taken by another program; stop it, or "
                    f"move {service.name} to other ports (see docs/deployments.md)"
                )
            pid = self._spawn(service)
            say(f"{service.name}: started (pid {pid}), waiting until it answers on {service.address} …")
        self._wait_ready(service, pid)
        if service.after_start is not None:
            service.after_start()
        return self.state(service)

    def _spawn(self, service: Service) -> int:
        command, env = service.launch()
        log = self.log_path(service.name)
        log.parent.mkdir(parents=True, exist_ok=True)
        self._pid_path(service.name).parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {service.name}\n".encode())
            out.flush()
            try:
                process = subprocess.Popen(
                    list(command),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, **env},
                    cwd=self.root,
                    start_new_session=True,  # its own process group: Ctrl-C in this terminal does not reach it
                )
            except OSError as exc:
                raise UserError(f"{service.name}: could not start {command[0]}: {exc}") from None
        self._pid_path(service.name).write_text(f"{process.pid}\n")
        return process.pid

    def _wait_ready(self, service: Service, pid: int) -> None:
        deadline = time.monotonic() + service.start_timeout
        while time.monotonic() < deadline:
            if _safely(service.ready):
                return
            if not _alive(pid):
                self._pid_path(service.name).unlink(missing_ok=True)
                raise UserError(
                    f"{service.name} exited while starting; the end of {self.log_path(service.name)}:\n"
                    + self.tail(service.name, 15)
                )
            time.sleep(0.5)
        self.stop(service)
        raise UserError(
            f"{service.name} did not answer on {service.address} within {service.start_timeout:.0f}s and was "
            f"stopped; the end of {self.log_path(service.name)}:\n" + self.tail(service.name, 15)
        )

    def stop(self, service: Service, grace: float | None = None) -> str:
        """Stop the service: SIGTERM to its process group, SIGKILL after `grace` seconds (the service's own grace
        unless given); say what happened."""
        grace = service.stop_grace if grace is None else grace
        pid = self.pid(service)
        if pid is None:
            return "not running"
        _signal_group(pid, signal.SIGTERM)
        # The whole group, not only its leader: Trino's launcher runs the JVM as its child, and a JVM still shutting
        # down holds the ports and the launcher's pid file that a restart needs.
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.2)
        how = "stopped"
        if _group_alive(pid):
            _signal_group(pid, signal.SIGKILL)
            how = f"killed (still running {grace:.0f}s after SIGTERM)"
            if service.killed_is_normal:
                how = f"stopped (killed {grace:.0f}s after SIGTERM: {service.killed_is_normal})"
            while _group_alive(pid):
                time.sleep(0.1)
        self._pid_path(service.name).unlink(missing_ok=True)
        return how

    def tail(self, name: str, lines: int = 40) -> str:
        """Return the last `lines` lines of a service's log."""
        path = self.log_path(name)
        if not path.is_file():
            return f"(no log yet at {path})"
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256 * 1024))
            text = f.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def _safely(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:
        return False


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"  # a zombie has exited
    except (OSError, IndexError):
        return False


def _group_alive(pgid: int) -> bool:
    """Return whether any process of the group is still running (zombies, which have exited, do not count)."""
    if _alive(pgid):
        return True
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue  # it exited while we looked
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)

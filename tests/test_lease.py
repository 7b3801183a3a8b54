"""The warehouse's write lease on a local disk: one holder at a time, a bounded wait, a stale lease taken over by
exactly one contender, and two `lakehouse run` at once on one shop (one runs, one is refused, nothing doubled).

The scenarios take a Warehouse, so tests/stack/test_stack_lease.py runs the same ones on S3.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakehouse.cli import cli
from lakehouse.errors import UserError
from lakehouse.lease import Holder, Lease, current_holder, hold, lease_uri
from lakehouse.settings import Settings
from lakehouse.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))

# A process that holds the lease (through `hold`, as the commands do) until its stdin closes; with a start time it
# first sleeps until then, so contenders start together. It says `held`, or the one-line refusal, on stdout.
HOLDER_SCRIPT = """
import sys, time
from lakehouse.errors import UserError
from lakehouse.lease import hold
from lakehouse.settings import load_settings
from lakehouse.warehouse import Warehouse

command, renew, start_at = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
warehouse = Warehouse(load_settings(None))
time.sleep(max(0.0, start_at - time.time()))
try:
    with hold(warehouse, command, renew_seconds=renew):
        print("held", flush=True)
        sys.stdin.read()
except UserError as exc:
    print(f"error: {exc}", flush=True)
    sys.exit(3)
"""


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    return Warehouse(Settings(warehouse=str(tmp_path / "warehouse")))


# -- helpers the S3 tests share -------------------------------------------------------------------------------------
def environment(warehouse: Warehouse) -> dict[str, str]:
    """Return the environment a `lakehouse` process needs to reach `warehouse`."""
    return {**os.environ, "LAKEHOUSE_WAREHOUSE": warehouse.root, **warehouse.settings.s3.environment()}


def start_holder(warehouse: Warehouse, command: str, renew: float = 30.0, start_at: float = 0.0) -> subprocess.Popen:
    """Start a process that takes the lease (at `start_at`) and holds it until its stdin closes."""
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT, command, str(renew), str(start_at)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=environment(warehouse),
        cwd=REPO,
    )


def first_line(process: subprocess.Popen) -> str:
    assert process.stdout is not None
    return process.stdout.readline().strip()


@contextmanager
def holding(warehouse: Warehouse, command: str, renew: float = 30.0) -> Iterator[subprocess.Popen]:
    """Yield a process holding the lease; on leaving, let it give the lease back (or kill what is left of it)."""
    process = start_holder(warehouse, command, renew)
    try:
        assert first_line(process) == "held"
        yield process
    finally:
        process.kill()
        process.wait()


def write_foreign_lease(warehouse: Warehouse, heartbeat_age: timedelta) -> Holder:
    """Write a lease held by pid 4242 on another host, last renewed `heartbeat_age` ago; return its holder."""
    beat = datetime.now(UTC) - heartbeat_age
    holder = Holder(
        host="elsewhere",
        pid=4242,
        command="lakehouse run",
        token="f" * 32,
        since=beat - timedelta(hours=1),
        heartbeat=beat,
    )
    warehouse.write_bytes(lease_uri(warehouse), holder.to_bytes())
    return holder


def race(warehouse: Warehouse, contenders: int) -> tuple[list[Lease], list[str]]:
    """Let `contenders` threads take the lease at the same moment; return the winners and the refusals."""
    leases = [Lease(warehouse, f"contender {i}") for i in range(contenders)]
    start = threading.Barrier(contenders)
    won: list[Lease] = []
    refused: list[str] = []

    def contend(lease: Lease) -> None:
        start.wait()
        try:
            lease.acquire()
            won.append(lease)
        except UserError as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=contend, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won, refused


# -- scenarios ----------------------------------------------------------------------------------------------------
def second_is_refused_naming_the_holder(warehouse: Warehouse) -> None:
    first = Lease(warehouse, "lakehouse run")
    held = first.acquire()
    try:
        with pytest.raises(UserError) as refused:
            Lease(warehouse, "lakehouse maintain").acquire(wait=0)
        assert str(refused.value) == (
            f"the warehouse {warehouse.root} is being written by pid {os.getpid()} on {socket.gethostname()} since "
            f"{held.since:%H:%M:%S} UTC (lakehouse run); wait for it (--wait SECONDS), or stop it"
        )
        assert current_holder(warehouse) == held  # the refused one changed nothing
    finally:
        first.release()
    assert current_holder(warehouse) is None


def second_waits_and_gets_it_once_released(warehouse: Warehouse) -> None:
    first = Lease(warehouse, "lakehouse run")
    first.acquire()
    clock = time.monotonic()
    with pytest.raises(UserError, match=r"waited 0\.5s; wait longer \(--wait SECONDS\), or stop it$"):
        Lease(warehouse, "impatient").acquire(wait=0.5)
    assert time.monotonic() - clock >= 0.5
    threading.Timer(1.0, first.release).start()
    second = Lease(warehouse, "patient")
    clock = time.monotonic()
    held = second.acquire(wait=30)
    try:
        assert 0.9 <= time.monotonic() - clock < 10
        assert current_holder(warehouse) == held and held.command == "patient"
    finally:
        second.release()


def crashed_holder_is_taken_over(warehouse: Warehouse) -> None:
    with holding(warehouse, "crashing run") as crashed:
        crashed.send_signal(signal.SIGKILL)
        crashed.wait()
        left = current_holder(warehouse)
        assert left is not None and left.pid == crashed.pid  # the crash left its lease behind
        assert left.stale_reason() == f"pid {crashed.pid} on this host has exited"
        lease = Lease(warehouse, "next run")
        held = lease.acquire()  # at once: the pid is gone
        lease.release()
    assert held.pid == os.getpid()


def silent_holder_is_taken_over(warehouse: Warehouse) -> None:
    alive = write_foreign_lease(warehouse, timedelta(seconds=5))
    with pytest.raises(UserError, match=r"being written by pid 4242 on elsewhere since .* \(lakehouse run\)"):
        Lease(warehouse, "next run").acquire()
    assert current_holder(warehouse) == alive
    write_foreign_lease(warehouse, timedelta(minutes=10))
    lease = Lease(warehouse, "next run")
    held = lease.acquire()
    try:
        assert current_holder(warehouse) == held
    finally:
        lease.release()


def one_of_many_threads_takes_over_a_stale_lease(warehouse: Warehouse, rounds: int, contenders: int = 8) -> None:
    for _ in range(rounds):
        write_foreign_lease(warehouse, timedelta(minutes=10))
        won, refused = race(warehouse, contenders)
        try:
            assert len(won) == 1, f"{len(won)} contenders took one lease"
            winner = won[0].holder
            assert winner is not None and current_holder(warehouse) == winner
            assert len(refused) == contenders - 1
            assert all(f"since {winner.since:%H:%M:%S} UTC ({winner.command})" in r for r in refused), refused
        finally:
            for lease in won:
                lease.release()


def one_of_many_processes_takes_over_a_stale_lease(warehouse: Warehouse, contenders: int = 4) -> None:
    write_foreign_lease(warehouse, timedelta(minutes=10))
    start_at = time.time() + 3  # after every interpreter has started
    processes = [start_holder(warehouse, f"contender {i}", start_at=start_at) for i in range(contenders)]
    try:
        answers = {p.pid: first_line(p) for p in processes}
        winners = [pid for pid, answer in answers.items() if answer == "held"]
        assert len(winners) == 1, answers
        holder = current_holder(warehouse)
        assert holder is not None and holder.pid == winners[0]
        for pid, answer in answers.items():
            if pid != winners[0]:
                assert answer.startswith(f"error: the warehouse {warehouse.root} is being written by pid {holder.pid}")
    finally:
        for process in processes:
            process.kill()
            process.wait()


def paused_holder_finds_its_lease_lost(warehouse: Warehouse) -> None:
    with holding(warehouse, "paused run", renew=0.2) as paused:
        paused.send_signal(signal.SIGSTOP)
        time.sleep(1.0)  # over three renewals without a heartbeat
        lease = Lease(warehouse, "next run")
        held = lease.acquire()
        try:
            paused.send_signal(signal.SIGCONT)
            answer = first_line(paused)  # its next renewal fails: it stops, saying so
            assert paused.wait(timeout=30) == 3
            assert answer.startswith(f"error: the write lease of the warehouse {warehouse.root} was taken over")
            assert f"now held by pid {os.getpid()}" in answer
            now = current_holder(warehouse)
            assert now is not None and now.token == held.token  # its late renewal did not overwrite the new holder
        finally:
            lease.release()
    assert current_holder(warehouse) is None


def holder_renews_and_gives_back_on_ctrl_c(warehouse: Warehouse) -> None:
    with holding(warehouse, "interrupted run", renew=0.2) as process:
        first = current_holder(warehouse)
        time.sleep(0.7)
        later = current_holder(warehouse)
        assert first is not None and later is not None and later.heartbeat > first.heartbeat
        assert later.token == first.token and later.since == first.since
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert current_holder(warehouse) is None


# -- on a local disk ------------------------------------------------------------------------------------------------
def test_a_second_lease_is_refused_naming_the_holder(warehouse):
    second_is_refused_naming_the_holder(warehouse)


def test_a_second_lease_waits_and_gets_it_once_released(warehouse):
    second_waits_and_gets_it_once_released(warehouse)


def test_the_lease_of_a_crashed_process_is_taken_over_at_once(warehouse):
    crashed_holder_is_taken_over(warehouse)


def test_a_lease_whose_heartbeat_stopped_is_taken_over(warehouse):
    silent_holder_is_taken_over(warehouse)


def test_one_of_many_threads_takes_over_a_stale_lease(warehouse):
    one_of_many_threads_takes_over_a_stale_lease(warehouse, rounds=10)


def test_one_of_many_processes_takes_over_a_stale_lease(warehouse):
    one_of_many_processes_takes_over_a_stale_lease(warehouse)


def test_a_paused_holder_finds_its_lease_lost_and_stops(warehouse):
    paused_holder_finds_its_lease_lost(warehouse)


def test_the_holder_renews_its_heartbeat_and_gives_the_lease_back_on_ctrl_c(warehouse):
    holder_renews_and_gives_back_on_ctrl_c(warehouse)


def test_the_lease_is_given_back_when_the_block_fails(warehouse):
    with pytest.raises(RuntimeError), hold(warehouse, "failing run"):
        assert current_holder(warehouse) is not None
        raise RuntimeError("a step failed")
    assert current_holder(warehouse) is None


def test_a_run_id_is_written_into_the_lease(warehouse):
    lease = Lease(warehouse, "lakehouse run")
    lease.acquire()
    try:
        lease.note_run("20261206T100211-1a2b3c")
        holder = current_holder(warehouse)
        assert holder is not None and holder.run_id == "20261206T100211-1a2b3c"
        assert holder.describe().endswith("(lakehouse run, run 20261206T100211-1a2b3c)")
    finally:
        lease.release()


def test_a_lease_file_it_cannot_read_is_not_overwritten(warehouse):
    uri = lease_uri(warehouse)
    warehouse.write_bytes(uri, b"not json")
    with pytest.raises(UserError, match=r"is not a lease this lakehouse wrote.*delete that file and try again"):
        Lease(warehouse, "lakehouse run").acquire()
    assert warehouse.read_bytes(uri) == b"not json"


def test_commands_that_write_refuse_in_one_line_and_readers_do_not_care(warehouse, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", warehouse.root)
    warehouse.write_bytes(warehouse.uri("landing", "customers", "dt=2026-01-01", "customers_20260101.csv"), b"id\n")
    lease = Lease(warehouse, "lakehouse run --watch")
    held = lease.acquire()
    try:
        for args in (["run"], ["maintain"], ["run", "--watch"], ["dbt", "build"]):
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 1, result.output
            lines = result.output.strip().splitlines()
            assert lines == [
                f"Error: the warehouse {warehouse.root} is being written by pid {os.getpid()} on "
                f"{socket.gethostname()} since {held.since:%H:%M:%S} UTC (lakehouse run --watch); wait for it "
                "(--wait SECONDS), or stop it"
            ]
        status = CliRunner().invoke(cli, ["status"])
        assert status.exit_code == 0, status.output
        assert f"Being written by pid {os.getpid()} on {socket.gethostname()}" in " ".join(status.output.split())
        assert current_holder(warehouse) == lease.holder
    finally:
        lease.release()


# -- end to end -----------------------------------------------------------------------------------------------------
def _keys(warehouse: Warehouse, table: str, *columns: str) -> list[tuple]:
    """Return the values of `columns` in every row of `table`, as tuples."""
    from deltalake import DeltaTable

    delta = DeltaTable(warehouse.table_uri(table), storage_options=warehouse.storage_options())
    rows = delta.to_pyarrow_table(columns=list(columns)).to_pylist()
    return [tuple(row[c] for c in columns) for row in rows]


def two_runs_at_once(warehouse: Warehouse, env: dict[str, str], cwd: Path) -> None:
    """Land a small shop, start two runs through silver at once, and check that one wrote, the other was refused in
    one line naming the first, and nothing is twice in the tables that two writers would double."""
    env = env | {"LAKEHOUSE_SPARK_DRIVER_MEMORY": "1g"}
    shop = ["generate", "--days", "2", "--customers", "100", "--events-per-day", "500", "--seed", "5"]
    subprocess.run([LAKEHOUSE, *shop], env=env, cwd=cwd, check=True, capture_output=True)

    # Through silver: the layers the checks below read (the rest of a run, dbt, would only make the test longer).
    command = [LAKEHOUSE, "run", "--layer", "bronze", "--layer", "silver"]
    runs = [
        subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)
    ]
    outcomes = [(run.wait(timeout=900), *(stream.decode() for stream in run.communicate())) for run in runs]

    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 1], outcomes
    _, out, err = next(o for o in outcomes if o[0] == 1)
    winner = next(run for run, o in zip(runs, outcomes, strict=True) if o[0] == 0)
    assert out.strip() == ""
    (line,) = err.strip().splitlines()  # one line, no traceback
    assert line.startswith(f"Error: the warehouse {warehouse.root} is being written by pid {winner.pid} on "), line
    assert line.endswith(
        " UTC (lakehouse run --layer bronze --layer silver); wait for it (--wait SECONDS), or stop it"
    ), line
    assert current_holder(warehouse) is None  # the winner gave it back

    # Without the lease both runs fail and the quarantines hold some bad lines twice.
    for table, key in [
        ("silver.orders", ("order_id",)),
        ("silver.events", ("event_id",)),
        ("bronze.quarantine", ("_source_file", "_source_line")),
        ("silver.quarantine", ("_source_file", "_source_line")),
    ]:
        keys = _keys(warehouse, table, *key)
        assert keys and len(keys) == len(set(keys)), f"{table} holds {len(keys) - len(set(keys))} rows twice"


@pytest.mark.e2e
def test_two_runs_at_once_one_writes_the_other_is_refused_and_nothing_doubles(tmp_path):
    warehouse = Warehouse(Settings(warehouse=str(tmp_path / "shop")))
    two_runs_at_once(warehouse, environment(warehouse), tmp_path)


def test_a_watcher_whose_lease_was_taken_over_starts_no_run(warehouse):
    from lakehouse.pipeline.watch import watch
    from lakehouse.tables import Tables

    watcher = Lease(warehouse, "lakehouse run --watch", renew_seconds=3600, stale_after_seconds=0.01)
    watcher.acquire()
    time.sleep(0.05)
    newcomer = Lease(warehouse, "lakehouse run")
    newcomer.acquire()  # the watcher's heartbeat is overdue: taken over
    try:
        assert watcher.renew() is False and watcher.lost
        with pytest.raises(UserError, match=r"was taken over while this run held it \(now held by pid \d+ on "):
            watch(Tables(warehouse), max_runs=1, lease=watcher)
        watcher.release()
        assert current_holder(warehouse) == newcomer.holder  # giving back a lost lease leaves the new holder's
    finally:
        newcomer.release()

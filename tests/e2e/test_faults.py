"""Faults end to end: a worker killed mid-job, a server killed with SQLite, failover."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.peers import RunningServer, free_port, wait_until
from tests.server.proc import env, run_ours
from tests.transports.flavours import Flavour

from .helpers import ours_on

pytestmark = pytest.mark.timeout(45)


def running(fl: Flavour, address: str, function: bytes) -> int:
    with fl.admin(address) as admin:
        return sum(s.running for s in admin.status() if s.function == function)


def test_worker_killed_mid_job_completes_on_another(fl: Flavour, ours: RunningServer) -> None:
    victim = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.victim", fl.name, ours.address],
        env=env(),
        stdin=subprocess.DEVNULL,
    )
    try:
        with fl.client(ours.address) as client:
            task = client.add_task("slow", b"payload")
            wait_until(lambda: running(fl, ours.address, b"slow") == 1, timeout=20)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            worker = fl.make_worker(ours.address)
            worker.register("slow", lambda job: b"done " + bytes(job.data))
            with fl.working(worker):
                assert task.result(20) == b"done payload"
    finally:
        victim.kill()
        victim.wait(10)


def test_sqlite_jobs_survive_a_server_sigkill(fl: Flavour, tmp_path: Path) -> None:
    args = ("--queue-type", "sqlite", "--sqlite-db", str(tmp_path / "queue.sqlite"))
    jobs = {f"u{i}": b"job%d" % i for i in range(50)}
    with run_ours(*args) as first:
        with fl.client(first.address) as client:
            for unique, data in jobs.items():
                prio = ("high", "normal", "low")[int(unique[1:]) % 3]
                client.submit_background("persist", data, unique=unique, priority=prio)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
    seen: list[bytes] = []
    lock = threading.Lock()
    all_done = threading.Event()
    with run_ours(*args) as second:
        worker = fl.make_worker(second.address)

        def record(job: Any) -> None:
            with lock:
                seen.append(bytes(job.data))
                if len(seen) == len(jobs):
                    all_done.set()

        worker.register("persist", record)
        with fl.working(worker):
            assert all_done.wait(20)
            with fl.admin(second.address) as admin:
                wait_until(lambda: not admin.show_jobs())
    assert sorted(seen) == sorted(jobs.values())  # each ran, none twice


def test_sqlite_restart_in_place_with_a_job_running(fl: Flavour, tmp_path: Path) -> None:
    # The worker stays up while the server is killed and restarted on the same port: it
    # reconnects, and every acknowledged job runs, the one running at the crash again.
    port = free_port()
    args = ("--queue-type", "sqlite", "--sqlite-db", str(tmp_path / "q.sqlite"))
    jobs = [b"job%d" % i for i in range(10)]
    seen: list[bytes] = []
    lock = threading.Lock()
    first_started = threading.Event()
    gate = threading.Event()
    worker = fl.make_worker(f"127.0.0.1:{port}")

    def record(job: Any) -> None:
        with lock:
            seen.append(bytes(job.data))
        first_started.set()
        assert gate.wait(20)

    worker.register("persist", record)
    with ours_on(port, *args) as first, fl.working(worker):
        with fl.client(first.address) as client:
            for data in jobs:
                client.submit_background("persist", data)
        assert first_started.wait(10)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        gate.set()
        with ours_on(port, *args):
            wait_until(lambda: set(seen) == set(jobs), timeout=30)
    assert seen[0] == jobs[0]
    assert sorted(set(seen)) == sorted(jobs)
    assert len(seen) in (len(jobs), len(jobs) + 1)  # only the interrupted one twice


def test_sqlite_epoch_job_survives_a_restart_and_wakes_the_worker(
    fl: Flavour, tmp_path: Path
) -> None:
    args = ("--queue-type", "sqlite", "--sqlite-db", str(tmp_path / "queue.sqlite"))
    when = int(time.time()) + 2
    with run_ours(*args) as first:
        with fl.client(first.address) as client:
            client.submit_background("later", b"due", epoch=when)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
    ran_at: list[float] = []
    done = threading.Event()
    with run_ours(*args) as second:
        worker = fl.make_worker(second.address, poll_interval=3600)  # never polls

        def later(job: Any) -> None:
            ran_at.append(time.time())
            done.set()

        worker.register("later", later)
        with fl.working(worker):
            assert done.wait(15)
    assert ran_at[0] >= when - 0.05


@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGTERM], ids=["SIGUSR1", "SIGTERM"])
def test_shutdown_signals(fl: Flavour, sig: signal.Signals) -> None:
    # SIGUSR1 is graceful: the running job finishes and its caller gets the result.
    # SIGTERM stops at once: the caller is told the server was lost.
    started = threading.Event()
    release = threading.Event()
    with run_ours() as server:
        worker = fl.make_worker(server.address)

        @worker.function("slow")
        def _slow(job: Any) -> bytes:
            started.set()
            assert release.wait(20)
            return b"finished"

        with fl.working(worker), fl.client(server.address) as client:
            task = client.add_task("slow")
            assert started.wait(10)
            server.proc.send_signal(sig)
            if sig == signal.SIGUSR1:
                with pytest.raises(subprocess.TimeoutExpired):
                    server.proc.wait(timeout=0.3)  # a job is running: still up
                release.set()
                assert task.result(10) == b"finished"
            else:
                with pytest.raises(fl.ConnectionLost):
                    task.result(10)
                release.set()
            assert server.proc.wait(timeout=10) == 0

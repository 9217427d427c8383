"""Client and worker features of every flavour against our server (gearmand 2.0 semantics)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.peers import RunningServer, wait_until
from tests.server.proc import run_ours
from tests.transports.flavours import Flavour

from .helpers import reverse

pytestmark = pytest.mark.timeout(30)


def test_tutorial_reverse(fl: Flavour, ours: RunningServer) -> None:
    worker = fl.make_worker(ours.address)

    @worker.function("reverse")
    def _reverse(job: Any) -> bytes:
        return bytes(job.data[::-1])

    with fl.working(worker), fl.client(ours.address) as client:
        assert client.submit("reverse", b"Hello World!") == b"!dlroW olleH"
        handle = client.submit_background("reverse", b"later", priority="low")
        assert handle.startswith(b"H:")


@pytest.mark.parametrize("backend", ["trio"])
def test_trio_backend_smoke(fl: Flavour, backend: str) -> None:
    with run_ours("--backend", backend) as server:
        worker = fl.make_worker(server.address)
        worker.register("reverse", reverse)
        with fl.working(worker), fl.client(server.address) as client:
            assert client.submit("reverse", b"on trio") == b"oirt no"
            tasks = [client.add_task("reverse", b"%d" % i) for i in range(20)]
            client.wait(tasks, 10)
            assert [t.result() for t in tasks] == [(b"%d" % i)[::-1] for i in range(20)]
            with fl.admin(server.address) as admin:
                assert admin.getpid() == server.proc.pid


def test_priority_is_global_across_a_workers_functions(fl: Flavour, ours: RunningServer) -> None:
    # gearmand 2.0 (and our server): a worker gets every HIGH job of all its functions
    # before any NORMAL one, then LOW; gearmand 1.1 orders within each function only.
    order = [("a", "low"), ("b", "low"), ("a", "normal"), ("b", "high"), ("a", "high")]
    order += [("b", "normal")]
    with fl.client(ours.address) as client:
        for function, prio in order:
            client.submit_background(function, prio, priority=prio)
    seen: list[str] = []
    done = threading.Event()
    worker = fl.make_worker(ours.address)

    def record(job: Any) -> None:
        seen.append(job.text)
        if len(seen) == len(order):
            done.set()

    worker.register("a", record)
    worker.register("b", record)
    with fl.working(worker):
        assert done.wait(10)
    assert seen == ["high", "high", "normal", "normal", "low", "low"]


def test_epoch_job_wakes_a_sleeping_worker(fl: Flavour, ours: RunningServer) -> None:
    # Our server wakes sleeping workers when an epoch job falls due: the worker never
    # polls here (its poll interval is far longer than the test).
    ran_at: list[float] = []
    done = threading.Event()
    worker = fl.make_worker(ours.address, poll_interval=3600)

    @worker.function("later")
    def _later(job: Any) -> None:
        ran_at.append(time.time())
        done.set()

    with fl.working(worker), fl.client(ours.address) as client:
        with fl.admin(ours.address) as admin:  # the worker registered and went to sleep
            wait_until(lambda: any(b"later" in w.functions for w in admin.workers()))
        when = int(time.time()) + 2
        handle = client.submit_background("later", b"", epoch=when)
        assert handle.startswith(b"H:")
        assert done.wait(10)
    assert ran_at[0] >= when - 0.05


def test_large_payloads_both_ways(fl: Flavour, ours: RunningServer) -> None:
    worker = fl.make_worker(ours.address)
    worker.register("reverse", reverse)
    payload = bytes(range(256)) * 4096  # 1 MiB
    with fl.working(worker), fl.client(ours.address) as client:
        assert client.submit("reverse", payload, timeout=20) == payload[::-1]


def test_payloads_around_64_kib_arrive_whole(fl: Flavour, ours: RunningServer) -> None:
    # GearmaNode #55: payloads of about 65,480-65,510 bytes never reached the worker;
    # our reads are 64 KiB and large packets are collected from 32 KiB on.
    sizes = [32 * 1024 - 1, 32 * 1024 + 1, *range(65_470, 65_546, 5), 128 * 1024 + 7]
    worker = fl.make_worker(ours.address)
    worker.register("reverse", reverse)
    with fl.working(worker), fl.client(ours.address) as client:
        for size in sizes:
            payload = bytes(range(251)) * (size // 251) + b"z" * (size % 251)
            assert client.submit("reverse", payload, timeout=20) == payload[::-1], size


def test_function_registered_while_asleep_gets_jobs_already_queued(
    fl: Flavour, ours: RunningServer
) -> None:
    done = threading.Event()
    worker = fl.make_worker(ours.address, poll_interval=3600)
    worker.register("reverse", reverse)
    with fl.working(worker), fl.client(ours.address) as client:
        assert client.submit("reverse", b"ab") == b"ba"  # the worker is up; it sleeps next
        with fl.admin(ours.address) as admin:
            wait_until(lambda: any(b"reverse" in w.functions for w in admin.workers()))
        client.submit_background("late", b"")  # queued before anyone can do it
        fl.call(worker.register, "late", lambda job: done.set())  # in its event loop
        assert done.wait(10)

"""Client and worker features of every flavour against our server (gearmand 2.0 semantics)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.peers import RunningServer
from tests.server.proc import run_ours
from tests.transports.flavours import Flavour

from .helpers import reverse, wait_handles, wait_until

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


def test_unique_coalesces_and_every_caller_gets_the_result(
    fl: Flavour, ours: RunningServer
) -> None:
    runs: list[bytes] = []
    with fl.client(ours.address) as one, fl.client(ours.address) as two:
        first = one.add_task("once", b"x", unique="same")
        wait_handles([first])
        second = two.add_task("once", b"y", unique="same")
        third = one.add_task("once", b"z")  # no unique: never coalesces
        wait_handles([first, second, third])
        assert first.handle == second.handle != third.handle
        status = one.get_status_unique("same")
        assert (status.known, status.running, status.client_count) == (True, False, 2)
        worker = fl.make_worker(ours.address)

        @worker.function("once")
        def _once(job: Any) -> bytes:
            runs.append(job.data)
            return b"ran " + bytes(job.data)

        with fl.working(worker):
            assert first.result(10) == second.result(10) == b"ran x"
            assert third.result(10) == b"ran z"
    assert sorted(runs) == [b"x", b"z"]


def test_updates_arrive_in_order(fl: Flavour, ours: RunningServer) -> None:
    worker = fl.make_worker(ours.address)

    @worker.function("chatty")
    def _chatty(job: Any) -> bytes:
        job.send_status(1, 3)
        job.send_data(b"part1")
        job.send_warning("careful")
        job.send_status(3, 3)
        return b"end"

    got: list[Any] = []
    with fl.working(worker), fl.client(ours.address) as client:
        task = client.add_task("chatty", on_update=got.append)
        updates = list(task.updates())
        assert task.result() == b"end"
        assert task.progress == (3, 3)
    kinds = [(u.kind, u.data, u.numerator, u.denominator) for u in updates]
    assert kinds == [
        ("status", b"", 1, 3),
        ("data", b"part1", 0, 0),
        ("warning", b"careful", 0, 0),
        ("status", b"", 3, 3),
    ]
    assert got == updates


def test_exceptions_option_and_work_fail(fl: Flavour, ours: RunningServer) -> None:
    worker = fl.make_worker(ours.address)

    @worker.function("boom")
    def _boom(job: Any) -> None:
        raise ValueError("no " + job.text)

    @worker.function("fail")
    def _fail(job: Any) -> bytes:
        job.fail()
        return b"ignored"

    @worker.function("raise_fail")
    def _raise_fail(job: Any) -> None:
        raise fl.JobFailed()

    worker.register("reverse", reverse)
    with fl.working(worker):
        with fl.client(ours.address) as client:
            with pytest.raises(fl.JobException) as info:
                client.submit("boom", "way")
            assert info.value.data == b"ValueError: no way"
            assert client.submit("reverse", b"ok") == b"ko"  # the worker goes on
            for name in ("fail", "raise_fail"):
                with pytest.raises(fl.JobFailed) as failed:
                    client.submit(name)
                assert not isinstance(failed.value, fl.JobException)
        with fl.client(ours.address, exceptions=False) as client:
            with pytest.raises(fl.JobFailed) as failed:
                client.submit("boom", "way")
            assert not isinstance(failed.value, fl.JobException)


def test_status_by_handle_and_unique(fl: Flavour, ours: RunningServer) -> None:
    started = threading.Event()
    release = threading.Event()
    worker = fl.make_worker(ours.address)

    @worker.function("slow")
    def _slow(job: Any) -> bytes:
        job.send_status(1, 4)
        started.set()
        assert release.wait(10)
        return b"done"

    with fl.working(worker), fl.client(ours.address) as client:
        task = client.add_task("slow", unique="track-me")
        assert started.wait(10)
        wait_handles([task])
        wait_until(lambda: client.get_status(task.handle).numerator == 1)
        status = client.get_status(task.handle)
        assert (status.known, status.running, status.numerator, status.denominator) == (
            True,
            True,
            1,
            4,
        )
        by_unique = client.get_status_unique("track-me")
        assert (by_unique.known, by_unique.running, by_unique.client_count) == (True, True, 1)
        release.set()
        assert task.result(10) == b"done"
        assert not client.get_status(task.handle).known
        assert not client.get_status_unique("track-me").known


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


def test_can_do_timeout_requeues_a_stuck_job(fl: Flavour, ours: RunningServer) -> None:
    attempts: list[float] = []
    second = threading.Event()
    worker = fl.make_worker(ours.address, concurrency=2, poll_interval=3600)

    @worker.function("stuck", timeout=1)
    def _stuck(job: Any) -> bytes:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            # The server takes the job back after 1 s and hands it out again.
            assert second.wait(15)
        else:
            second.set()
        return b"attempt %d" % len(attempts)

    with fl.working(worker), fl.client(ours.address) as client:
        assert client.submit("stuck", timeout=15) == b"attempt 2"
    assert len(attempts) == 2


def test_timeouts_per_call_and_per_client(fl: Flavour, ours: RunningServer) -> None:
    with fl.client(ours.address) as client, pytest.raises(fl.Timeout):
        client.submit("nobody", b"", timeout=0.2)
    with fl.client(ours.address, timeout=0.2) as client, pytest.raises(TimeoutError):
        client.submit("nobody", b"")
    with fl.admin(ours.address) as admin:
        # Both callers left: our server dropped their abandoned foreground jobs.
        wait_until(lambda: all(s.total == 0 for s in admin.status() if s.function == b"nobody"))


def test_echo_and_client_ids(fl: Flavour, ours: RunningServer) -> None:
    worker = fl.make_worker(ours.address, client_id="the-worker")
    worker.register("reverse", reverse)
    with fl.working(worker), fl.client(ours.address, client_id="the-client") as client:
        assert client.echo(b"\0binary\xff") == b"\0binary\xff"
        assert client.submit("reverse", b"ab") == b"ba"
        with fl.admin(ours.address) as admin:
            ids = {w.client_id: w.functions for w in admin.workers()}
    assert ids[b"the-worker"] == (b"reverse",)
    assert ids[b"the-client"] == ()


def test_many_jobs_in_flight_with_concurrency(fl: Flavour, ours: RunningServer) -> None:
    worker = fl.make_worker(ours.address, concurrency=4)
    worker.register("reverse", reverse)
    with fl.working(worker), fl.client(ours.address) as client:
        tasks = [client.add_task("reverse", b"%d" % i) for i in range(200)]
        assert len(client.wait(tasks, 20)) == 200
        assert [t.result() for t in tasks] == [(b"%d" % i)[::-1] for i in range(200)]


def test_large_payloads_both_ways(fl: Flavour, ours: RunningServer) -> None:
    worker = fl.make_worker(ours.address)
    worker.register("reverse", reverse)
    payload = bytes(range(256)) * 4096  # 1 MiB
    with fl.working(worker), fl.client(ours.address) as client:
        assert client.submit("reverse", payload, timeout=20) == payload[::-1]


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

"""Client and worker features, once per flavour.

Tests that take the ``server`` fixture run against the real gearmand and against our
own server; those that take ``gearmand`` depend on gearmand 1.1's own behaviour.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.peers import RunningServer

from .flavours import Flavour

pytestmark = pytest.mark.timeout(30)


def reverse(job: Any) -> bytes:
    return bytes(job.data[::-1])


def test_reverse_headline(fl: Flavour, server: RunningServer) -> None:
    worker = fl.make_worker(server.address)

    @worker.function("reverse")
    def _reverse(job: Any) -> bytes:
        return bytes(job.data[::-1])

    with fl.working(worker), fl.client(server.address) as client:
        assert client.submit("reverse", b"Hello World!") == b"!dlroW olleH"
        handle = client.submit_background("reverse", b"later", priority="low")
        assert handle.startswith(b"H:")


def test_str_and_bytes_names_and_data(fl: Flavour, server: RunningServer) -> None:
    worker = fl.make_worker(server.address)
    worker.register(b"echo", lambda job: job.data)
    worker.register("text", lambda job: job.text.upper())
    worker.register("none", lambda job: None)
    with fl.working(worker), fl.client(server.address) as client:
        assert client.submit(b"echo", "héllo") == "héllo".encode()
        assert client.submit("echo", bytearray(b"\0\1\2")) == b"\0\1\2"
        assert client.submit("text", "abc") == b"ABC"
        assert client.submit("none") == b""


def test_background_at_each_priority_runs_in_priority_order(
    fl: Flavour, gearmand: RunningServer
) -> None:
    # gearmand 1.1: priority is per function (HIGH, then NORMAL, then LOW; FIFO within).
    with fl.client(gearmand.address) as client:
        for prio in ("low", "normal", "high", "low", "high"):
            client.submit_background("prio", prio + "-" + str(time.monotonic_ns()), priority=prio)
    seen: list[str] = []
    done = threading.Event()
    worker = fl.make_worker(gearmand.address)

    @worker.function("prio")
    def _prio(job: Any) -> None:
        seen.append(job.text.split("-")[0])
        if len(seen) == 5:
            done.set()

    with fl.working(worker):
        assert done.wait(10)
    assert seen == ["high", "high", "normal", "low", "low"]


def test_unique_coalesces_and_both_callers_get_the_result(
    fl: Flavour, server: RunningServer
) -> None:
    runs: list[bytes] = []
    with fl.client(server.address) as one, fl.client(server.address) as two:
        first = one.add_task("once", b"x", unique="same")
        fl_wait_handles([first])
        second = two.add_task("once", b"y", unique="same")
        third = one.add_task("once", b"z")  # no unique: never coalesces
        fl_wait_handles([first, second, third])
        assert first.handle == second.handle != third.handle
        worker = fl.make_worker(server.address)

        @worker.function("once")
        def _once(job: Any) -> bytes:
            runs.append(job.data)
            return b"ran " + bytes(job.data)

        with fl.working(worker):
            assert first.result(10) == second.result(10) == b"ran x"
            assert third.result(10) == b"ran z"
    assert sorted(runs) == [b"x", b"z"]


def fl_wait_handles(tasks: list[Any]) -> None:
    deadline = time.monotonic() + 10
    while any(t.handle is None for t in tasks):
        assert time.monotonic() < deadline, "no JOB_CREATED"
        time.sleep(0.01)


def test_worker_sees_unique_with_grab_job_all(fl: Flavour, gearmand: RunningServer) -> None:
    worker = fl.make_worker(gearmand.address)
    worker.register("uniq", lambda job: job.unique)
    with fl.working(worker), fl.client(gearmand.address) as client:
        assert client.submit("uniq", b"", unique="u-42") == b"u-42"


def test_plain_grab_job(fl: Flavour, gearmand: RunningServer) -> None:
    worker = fl.make_worker(gearmand.address, grab_all=False)
    worker.register("uniq", lambda job: job.unique or b"(none)")
    with fl.working(worker), fl.client(gearmand.address) as client:
        assert client.submit("uniq", b"", unique="u-42") == b"(none)"


def test_epoch_job_runs_when_due(fl: Flavour, gearmand: RunningServer) -> None:
    # gearmand 1.1.20 has no timer for epoch jobs: a sleeping worker is not woken when
    # one falls due, so the worker grabs again every poll_interval.
    ran_at: list[float] = []
    done = threading.Event()
    worker = fl.make_worker(gearmand.address, poll_interval=0.2)

    @worker.function("later")
    def _later(job: Any) -> None:
        ran_at.append(time.time())
        done.set()

    with fl.working(worker), fl.client(gearmand.address) as client:
        when = int(time.time()) + 2
        handle = client.submit_background("later", b"", epoch=when)
        assert handle.startswith(b"H:")
        assert done.wait(10)
    assert ran_at[0] >= when - 0.05


def test_updates_arrive_in_order_with_callbacks(fl: Flavour, server: RunningServer) -> None:
    worker = fl.make_worker(server.address)

    @worker.function("chatty")
    def _chatty(job: Any) -> bytes:
        job.send_status(1, 3)
        job.send_data(b"part1")
        job.send_warning("careful")
        job.send_status(3, 3)
        return b"end"

    got: list[Any] = []
    with fl.working(worker), fl.client(server.address) as client:
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


def test_many_jobs_in_flight(fl: Flavour, server: RunningServer) -> None:
    worker = fl.make_worker(server.address, concurrency=4)
    worker.register("reverse", reverse)
    with fl.working(worker), fl.client(server.address) as client:
        tasks = [client.add_task("reverse", b"%d" % i) for i in range(200)]
        done = client.wait(tasks, 20)
        assert len(done) == 200
        assert [t.result() for t in tasks] == [(b"%d" % i)[::-1] for i in range(200)]
        first = client.wait([client.add_task("reverse", b"a")], 10, return_when_any=True)
        assert len(first) == 1


def test_submits_leave_without_anyone_waiting(fl: Flavour, server: RunningServer) -> None:
    # Submits made while an earlier one awaits its JOB_CREATED are held back and sent
    # together; they must still leave when nobody waits on the client.
    ran: list[bytes] = []
    all_ran = threading.Event()
    worker = fl.make_worker(server.address)

    @worker.function("note")
    def _note(job: Any) -> bytes:
        ran.append(bytes(job.data))
        if len(ran) == 20:
            all_ran.set()
        return b""

    with fl.working(worker), fl.client(server.address) as client:
        tasks = [client.add_task("note", b"%d" % i) for i in range(20)]
        assert all_ran.wait(10)
        assert sorted(ran) == sorted(b"%d" % i for i in range(20))
        client.wait(tasks, 10)


def test_exceptions_option(fl: Flavour, server: RunningServer) -> None:
    worker = fl.make_worker(server.address)

    @worker.function("boom")
    def _boom(job: Any) -> None:
        raise ValueError("no " + job.text)

    worker.register("reverse", reverse)
    with fl.working(worker):
        with fl.client(server.address) as client:
            with pytest.raises(fl.JobException) as info:
                client.submit("boom", "way")
            assert info.value.data == b"ValueError: no way"
            # The worker keeps running after a raising job.
            assert client.submit("reverse", b"ok") == b"ko"
        with fl.client(server.address, exceptions=False) as client:
            with pytest.raises(fl.JobFailed) as failed:
                client.submit("boom", "way")
            assert not isinstance(failed.value, fl.JobException)


def test_work_fail(fl: Flavour, server: RunningServer) -> None:
    worker = fl.make_worker(server.address)

    @worker.function("fail")
    def _fail(job: Any) -> bytes:
        job.fail()
        return b"ignored"

    @worker.function("raise_fail")
    def _raise_fail(job: Any) -> None:
        raise fl.JobFailed()

    worker.register("bad_result", lambda job: 42)
    with fl.working(worker), fl.client(server.address) as client:
        for name in ("fail", "raise_fail"):
            with pytest.raises(fl.JobFailed) as info:
                client.submit(name)
            assert not isinstance(info.value, fl.JobException)
        with pytest.raises(fl.JobException, match="TypeError"):
            client.submit("bad_result")


def test_status_by_handle_and_unique(fl: Flavour, server: RunningServer) -> None:
    started = threading.Event()
    release = threading.Event()
    worker = fl.make_worker(server.address)

    @worker.function("slow")
    def _slow(job: Any) -> bytes:
        job.send_status(1, 4)
        started.set()
        assert release.wait(10)
        return b"done"

    with fl.working(worker), fl.client(server.address) as client:
        task = client.add_task("slow", unique="track-me")
        assert started.wait(10)
        fl_wait_handles([task])
        deadline = time.monotonic() + 10
        while (status := client.get_status(task.handle)).numerator != 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
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


def test_echo(fl: Flavour, server: RunningServer) -> None:
    with fl.client(server.address) as client:
        assert client.echo(b"\0binary\xff") == b"\0binary\xff"
        assert client.echo("text") == b"text"


def test_timeouts_per_call_and_per_client(fl: Flavour, server: RunningServer) -> None:
    with fl.client(server.address) as client, pytest.raises(fl.Timeout):
        client.submit("nobody", b"", timeout=0.2)
    with fl.client(server.address, timeout=0.2) as client, pytest.raises(TimeoutError):
        client.submit("nobody", b"")
        # A foreground job whose caller gave up is dropped when the client leaves.


def test_client_id_and_worker_id(fl: Flavour, server: RunningServer) -> None:
    worker = fl.make_worker(server.address, client_id="the-worker")
    worker.register("reverse", reverse)
    with fl.working(worker), fl.client(server.address, client_id="the-client") as client:
        assert client.submit("reverse", b"ab") == b"ba"
        with fl.admin(server.address) as admin:
            ids = {w.client_id: w.functions for w in admin.workers()}
    assert ids[b"the-worker"] == (b"reverse",)
    assert ids[b"the-client"] == ()


def test_can_do_timeout_requeues_a_stuck_job(fl: Flavour, server: RunningServer) -> None:
    # gearmand drops the CAN_DO_TIMEOUT timer when a worker sends PRE_SLEEP, so a worker
    # with free slots must not sleep while it holds a job of a function with a timeout.
    # Our server keeps the timer and wakes the sleeping worker: it never needs to poll.
    attempts: list[float] = []
    poll = 3600 if server.ours else 0.5
    worker = fl.make_worker(server.address, concurrency=2, poll_interval=poll)

    second = threading.Event()

    @worker.function("stuck", timeout=1)
    def _stuck(job: Any) -> bytes:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            # The server takes the job back after 1 s and hands it out again.
            assert second.wait(15)
        else:
            second.set()
        return b"attempt %d" % len(attempts)

    with fl.working(worker), fl.client(server.address) as client:
        assert client.submit("stuck", timeout=15) == b"attempt 2"
    assert len(attempts) == 2


def test_concurrency_limit_is_never_exceeded(fl: Flavour, gearmand: RunningServer) -> None:
    lock = threading.Lock()
    running = [0]
    peak = [0]
    worker = fl.make_worker(gearmand.address, concurrency=3)

    together = threading.Barrier(3)

    @worker.function("busy")
    def _busy(job: Any) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        together.wait(10)  # three jobs must be able to run at once
        time.sleep(0.01)
        with lock:
            running[0] -= 1

    with fl.working(worker), fl.client(gearmand.address) as client:
        tasks = [client.add_task("busy") for _ in range(12)]
        client.wait(tasks, 20)
        with fl.admin(gearmand.address) as admin:
            assert not admin.show_jobs()
    assert peak[0] == 3


def test_worker_holds_no_more_jobs_than_it_runs(fl: Flavour, gearmand: RunningServer) -> None:
    started = threading.Event()
    release = threading.Event()
    worker = fl.make_worker(gearmand.address, concurrency=1)

    @worker.function("hold")
    def _hold(job: Any) -> None:
        started.set()
        assert release.wait(10)

    with fl.working(worker), fl.client(gearmand.address) as client:
        tasks = [client.add_task("hold") for _ in range(3)]
        assert started.wait(10)
        with fl.admin(gearmand.address) as admin:
            (row,) = [s for s in admin.status() if s.function == b"hold"]
        assert (row.total, row.running) == (3, 1)
        release.set()
        client.wait(tasks, 10)


def test_graceful_stop_finishes_running_jobs(fl: Flavour, gearmand: RunningServer) -> None:
    started = threading.Event()
    worker = fl.make_worker(gearmand.address, concurrency=2)

    @worker.function("slow")
    def _slow(job: Any) -> bytes:
        started.set()
        time.sleep(0.3)
        return b"finished"

    with fl.client(gearmand.address) as client:
        with fl.working(worker):
            task = client.add_task("slow")
            assert started.wait(10)
        # work() returned only after the job ended and its result was sent.
        assert task.result(5) == b"finished"
        # A job queued after the stop stays queued for the next worker.
        later = client.add_task("slow")
        with fl.admin(gearmand.address) as admin:
            fl_wait_handles([later])
            (row,) = [s for s in admin.status() if s.function == b"slow"]
            assert (row.total, row.running, row.workers) == (1, 0, 0)


def test_stop_from_inside_a_job(fl: Flavour, gearmand: RunningServer) -> None:
    worker = fl.make_worker(gearmand.address)

    @worker.function("last")
    def _last(job: Any) -> bytes:
        worker.stop()
        return b"bye"

    with fl.working(worker), fl.client(gearmand.address) as client:
        assert client.submit("last") == b"bye"


def test_queue_full_is_a_server_error(fl: Flavour, gearmand: RunningServer) -> None:
    with fl.client(gearmand.address) as client, fl.admin(gearmand.address) as admin:
        client.submit_background("capped", b"1")  # creates the function
        admin.maxqueue("capped", 1)
        with pytest.raises(fl.ServerError) as info:
            client.submit_background("capped", b"2")
        assert info.value.code == b"QUEUE_ERROR"

"""The scheduler on its own: no sockets, a fake clock, events in and events out."""

from __future__ import annotations

import pytest

import gearproto as gp
from server import AdminHandler, CloseConnection, Scheduler, Store, StoredJob, StoreError


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make(**kwargs: object) -> tuple[Scheduler, Clock]:
    clock = Clock()
    s = Scheduler(clock=clock, handle_prefix=b"H:t", **kwargs)  # type: ignore[arg-type]
    s.admin = AdminHandler(version=b"9.9")
    for cid in range(1, 10):
        s.connect(cid, fd=cid, address=b"127.0.0.1")
    return s, clock


def submit(s: Scheduler, cid: int, func: bytes = b"f", **kw: object) -> list[tuple[int, gp.Event]]:
    return s.handle(cid, gp.SubmitJob(function=func, **kw))  # type: ignore[arg-type]


def admin(s: Scheduler, line: bytes) -> bytes:
    *_, (_cid, reply) = s.handle(9, gp._admin.decode_command(line))
    return gp.Connection(gp.SERVER).send(reply)


def test_noop_at_most_once_per_sleep_and_only_after_pre_sleep() -> None:
    s, _ = make()
    s.handle(1, gp.CanDo(function=b"f"))
    s.handle(2, gp.CanDo(function=b"f"))
    assert s.handle(1, gp.PreSleep()) == []
    out = submit(s, 3, background=True)
    assert out == [(3, gp.JobCreated(handle=b"H:t:1")), (1, gp.Noop())]
    assert submit(s, 3, background=True) == [(3, gp.JobCreated(handle=b"H:t:2"))]
    # the next sleep of worker 1 sees runnable work: NOOP at once
    assert s.handle(1, gp.PreSleep()) == [(1, gp.Noop())]


def test_worker_wakeup_rotates() -> None:
    s, _ = make(worker_wakeup=1)
    for cid in (1, 2, 3):
        s.handle(cid, gp.CanDo(function=b"f"))
        s.handle(cid, gp.PreSleep())
    woken = []
    for _ in range(3):
        out = submit(s, 4, background=True)
        woken += [cid for cid, e in out if isinstance(e, gp.Noop)]
    assert woken == [1, 2, 3]


def test_maxqueue_and_coalescing_skips_the_check() -> None:
    s, _ = make()
    submit(s, 1, unique=b"u")
    assert admin(s, b"maxqueue f 1") == b"OK\r\n"
    assert submit(s, 2, unique=b"u") == [(2, gp.JobCreated(handle=b"H:t:1"))]
    assert submit(s, 2) == [(2, gp.Error(code=b"QUEUE_ERROR", text=b"Job queue is full"))]
    assert admin(s, b"maxqueue f") == b"OK\r\n"
    assert submit(s, 2)[0][1] == gp.JobCreated(handle=b"H:t:2")
    assert admin(s, b"maxqueue nosuch 3") == b"OK\r\n"
    assert admin(s, b"maxqueue").startswith(b"ERR INVALID_ARGUMENTS ")


def test_epoch_job_released_by_tick_and_wakes() -> None:
    s, clock = make()
    s.handle(1, gp.CanDo(function=b"f"))
    s.handle(1, gp.PreSleep())
    out = s.handle(2, gp.SubmitJobEpoch(function=b"f", unique=b"e", epoch=int(clock.now) + 60))
    assert out == [(2, gp.JobCreated(handle=b"H:t:1"))]
    assert admin(s, b"prioritystatus") == b"f\t0\t1\t0\t1\n.\n"
    assert s.next_deadline() == clock.now + 60
    assert s.tick() == []
    clock.now += 60
    assert s.tick() == [(1, gp.Noop())]
    ((_cid, assign),) = s.handle(1, gp.GrabJob())
    assert assign == gp.JobAssign(handle=b"H:t:1", function=b"f", data=b"")


def test_can_do_timeout_via_tick() -> None:
    s, clock = make()
    s.handle(1, gp.CanDoTimeout(function=b"f", timeout=10))  # raised to 1 s
    submit(s, 2, data=b"d")
    s.handle(1, gp.GrabJob())
    assert s.next_deadline() == clock.now + 1
    clock.now += 1
    assert s.tick() == []  # requeued silently
    assert admin(s, b"status") == b"f\t1\t0\t1\n.\n"
    out = s.handle(1, gp.WorkComplete(handle=b"H:t:1", data=b"late"))
    assert out[0][1].code == b"JOB_NOT_FOUND"  # type: ignore[attr-defined]


def test_background_job_survives_a_coalesced_foreground_client_leaving() -> None:
    s, _ = make()
    submit(s, 1, unique=b"u", background=True)
    submit(s, 2, unique=b"u")
    s.disconnect(2)
    assert s.job_count == 1
    s.handle(3, gp.CanDo(function=b"f"))
    assert isinstance(s.handle(3, gp.GrabJob())[0][1], gp.JobAssign)


def test_cancel_running_job_then_complete_reaches_nobody() -> None:
    s, _ = make()
    submit(s, 1)
    s.handle(2, gp.CanDo(function=b"f"))
    s.handle(2, gp.GrabJob())
    assert admin(s, b"cancel job H:t:1") == b"OK\r\n"
    assert s.take_output() == []
    assert s.handle(2, gp.WorkComplete(handle=b"H:t:1", data=b"x")) == []
    assert s.job_count == 0


def test_cant_do_and_reset_abilities_requeue() -> None:
    s, _ = make()
    submit(s, 1, data=b"a")
    s.handle(2, gp.CanDo(function=b"f"))
    s.handle(2, gp.CanDo(function=b"f"))
    assert admin(s, b"status") == b"f\t1\t0\t2\n.\n"
    s.handle(2, gp.GrabJob())
    s.handle(2, gp.CantDo(function=b"f"))
    assert admin(s, b"status") == b"f\t1\t0\t0\n.\n"
    s.handle(3, gp.CanDo(function=b"f"))
    s.handle(3, gp.GrabJob())
    s.handle(3, gp.ResetAbilities())
    assert admin(s, b"show jobs") == b"H:t:1\t2\t0\t0\n.\n"


class FailingStore(Store):
    persistent = True

    def add(self, job: StoredJob) -> None:
        raise StoreError("disk full")


def test_store_failure_is_queue_error() -> None:
    s, _ = make(store=FailingStore())
    assert submit(s, 1, background=True) == [
        (1, gp.Error(code=b"QUEUE_ERROR", text=b"QUEUE_ERROR"))
    ]
    assert submit(s, 1)[0][1] == gp.JobCreated(handle=b"H:t:1")  # foreground: not stored


class FailingCommit(Store):
    persistent = True

    def __init__(self) -> None:
        self.fail = True

    def commit(self) -> None:
        if self.fail:
            raise StoreError("disk I/O error")


def test_failed_commit_drops_the_batch_s_new_jobs() -> None:
    store = FailingCommit()
    s, _ = make(store=store)
    s.handle(2, gp.CanDo(function=b"f"))
    submit(s, 1, unique=b"u", background=True)  # H:t:1, lost with the commit
    submit(s, 3, unique=b"u")  # a foreground client coalesces onto it
    submit(s, 1, b"g")  # foreground: never stored, kept
    assert s.commit() == {b"H:t:1"}
    assert s.job_count == 1
    assert s.handle(2, gp.GrabJob()) == [(2, gp.NoJob())]  # nothing of f left to run
    assert s.disconnect(3) == []  # the coalesced client was detached without a word
    store.fail = False
    submit(s, 1, unique=b"u", background=True)
    assert s.commit() == frozenset()
    assert s.job_count == 2


def test_exceptions_default_on() -> None:
    s, _ = make(exceptions=True)
    submit(s, 1)
    s.handle(2, gp.CanDo(function=b"f"))
    s.handle(2, gp.GrabJob())
    out = s.handle(2, gp.WorkException(handle=b"H:t:1", data=b"e"))
    assert out == [(1, gp.WorkException(handle=b"H:t:1", data=b"e"))]


def test_get_status_with_huge_handle_closes() -> None:
    s, _ = make()
    with pytest.raises(CloseConnection):
        s.handle(1, gp.GetStatus(handle=b"H" * 64))


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"", b"ERR UNKNOWN_COMMAND Unknown+server+command\r\n"),
        (b"shutdown", b"ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n"),
        (b"shutdown graceful", b"ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n"),
        (b"jobs", b"ERR UNKNOWN_COMMAND Unknown+server+commandjobs\r\n"),
        (b"show", b"ERR UNKNOWN_COMMAND Unknown+server+commandshow\r\n"),
        (b"show nothing", b"ERR UNKNOWN_SHOW_ARGUMENTS\r\n"),
        (b"cancel", b"ERR UNKNOWN_COMMAND Unknown+server+commandcancel\r\n"),
        (b"cancel x y", b"ERR UNKNOWN_ERROR\r\n"),
        (b"cancel job", b"ERR UNKNOWN_COMMAND Unknown+server+commandcancel\r\n"),
        (b"cancel job nope", b"ERR UNKNOWN_JOB\r\n"),
        (
            b"Create",
            (
                b"ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command"
                b"+Create\r\n"
            ),
        ),
        (b"create function newf", b"OK\r\n"),
        (
            b"drop function",
            (
                b"ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command"
                b"+drop\r\n"
            ),
        ),
        (b"drop function nosuch", b"ERR function not found\r\n"),
        (b"drop function BUSY", b"ERR there are still connected workers or executing clients\r\n"),
        (b"VERSION", b"OK 9.9\n"),
        (b"verbose", b"OK ERROR\n"),
        (b"STATUS", b"busy\t0\t0\t1\n.\n"),
        (b"workers", b"1 127.0.0.1 - : busy\n9 127.0.0.1 - :\n.\n"),
    ],
)
def test_admin_replies(line: bytes, reply: bytes) -> None:
    s = Scheduler(clock=Clock(), handle_prefix=b"H:t")
    s.admin = AdminHandler(version=b"9.9")
    s.connect(1, fd=1, address=b"127.0.0.1")
    s.connect(9, fd=9, address=b"127.0.0.1")
    s.handle(1, gp.CanDo(function=b"busy"))
    assert admin(s, line) == reply


def test_getpid() -> None:
    import os

    s, _ = make()
    assert admin(s, b"getpid") == b"OK %d\n" % os.getpid()


def test_sleeping_worker_with_many_functions_is_woken() -> None:
    s, _ = make(worker_wakeup=1)
    for i in range(100):
        s.handle(1, gp.CanDo(function=b"f%d" % i))
    s.handle(2, gp.CanDo(function=b"f99"))
    assert s.handle(1, gp.PreSleep()) == []
    assert s.handle(2, gp.PreSleep()) == []
    out = submit(s, 3, b"f99", background=True)
    assert [cid for cid, e in out if isinstance(e, gp.Noop)] == [2]
    out = submit(s, 3, b"f99", background=True)
    assert [cid for cid, e in out if isinstance(e, gp.Noop)] == [1]
    assert submit(s, 3, b"f5", background=True) == [(3, gp.JobCreated(handle=b"H:t:3"))]
    s.handle(1, gp.GrabJob())
    assert s.handle(1, gp.PreSleep()) == [(1, gp.Noop())]  # work is waiting


def test_handle_events_is_handle_for_a_whole_read() -> None:
    wire = gp.Connection(gp.CLIENT)
    worker = gp.Connection(gp.WORKER)
    data = worker.send(gp.CanDo(function=b"f")) + worker.send(gp.GrabJob())
    one, _ = make()
    many, _ = make()
    expected = one.handle(1, gp.CanDo(function=b"f")) + one.handle(1, gp.GrabJob())
    server = gp.Connection(gp.SERVER)
    server.receive_data(data)
    assert many.handle_events(1, server.next_event) == (expected, False)
    # a client's submits, a foreground one coalesced, then the end of the stream
    sub = [gp.SubmitJob(function=b"f", unique=u, data=b"x") for u in (b"", b"u", b"u")]
    expected = [out for e in sub for out in one.handle(2, e)]
    server = gp.Connection(gp.SERVER)
    server.receive_data(b"".join(wire.send(e) for e in sub))
    server.receive_data(b"")
    assert many.handle_events(2, server.next_event) == (expected, True)
    assert many.job_count == one.job_count == 2


def test_handle_events_leaves_earlier_output_when_a_later_event_closes() -> None:
    s, _ = make()
    server = gp.Connection(gp.SERVER)
    client = gp.Connection(gp.CLIENT)
    too_long = b"\0REQ" + (15).to_bytes(4, "big") + (64).to_bytes(4, "big") + b"H" * 64
    server.receive_data(client.send(gp.EchoReq(data=b"hi")) + too_long)
    with pytest.raises(CloseConnection):
        s.handle_events(1, server.next_event)
    assert s.take_output() == [(1, gp.EchoRes(data=b"hi"))]


def test_sleeping_worker_that_registers_a_busy_function_is_woken() -> None:
    s, _ = make()
    s.handle(1, gp.CanDo(function=b"f"))
    assert s.handle(1, gp.PreSleep()) == []
    submit(s, 3, func=b"g", background=True)  # nobody can do g yet
    # gearmand would wait for the next submit of g; we wake the worker at once, once.
    assert s.handle(1, gp.CanDo(function=b"g")) == [(1, gp.Noop())]
    assert s.handle(1, gp.CanDo(function=b"h")) == []
    assert s.handle(1, gp.GrabJobUniq())[0][1] == gp.JobAssign(
        handle=b"H:t:1", function=b"g", unique=b"", data=b""
    )


def test_shared_empty_clients_and_single_unique_entries_stay_consistent() -> None:
    # Background jobs share one empty clients list and a unique used once maps to
    # the job itself: a foreground submit attaching to a background job, the same
    # unique in two functions, and the end of those jobs must leave both intact.
    from server._model import NO_CLIENTS

    s, _ = make()
    s.handle(1, gp.CanDo(function=b"f"))
    submit(s, 3, unique=b"u", background=True)
    submit(s, 4, unique=b"u")  # coalesces: client 4 attaches to the background job
    submit(s, 5, func=b"g", unique=b"u", background=True)
    assert NO_CLIENTS == []
    (_, assign), *_ = s.handle(1, gp.GrabJob())
    assert isinstance(assign, gp.JobAssign)
    status = s.handle(6, gp.GetStatusUnique(unique=b"u"))
    assert status == [
        (6, gp.StatusResUnique(unique=b"u", known=True, running=True, client_count=1))
    ]
    assert s.handle(1, gp.WorkComplete(handle=assign.handle, data=b"r")) == [
        (4, gp.WorkComplete(handle=assign.handle, data=b"r"))
    ]
    status = s.handle(6, gp.GetStatusUnique(unique=b"u"))
    assert status == [(6, gp.StatusResUnique(unique=b"u", known=True, running=False))]
    s.handle(1, gp.CanDo(function=b"g"))
    (_, assign), *_ = s.handle(1, gp.GrabJob())
    assert isinstance(assign, gp.JobAssign)
    s.handle(1, gp.WorkComplete(handle=assign.handle, data=b""))
    assert s.handle(6, gp.GetStatusUnique(unique=b"u")) == [
        (6, gp.StatusResUnique(unique=b"u", known=False, running=False))
    ]
    assert NO_CLIENTS == []

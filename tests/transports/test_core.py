"""The I/O-free core shared by the flavours, fed with scripted bytes (no sockets)."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import pytest

import gearproto
from transports import ConnectionLost, JobException, JobFailed, ServerError
from transports._core import client as cc
from transports._core import worker as wc
from transports._core.convert import epoch_seconds, priority, result_bytes, to_bytes
from transports._core.servers import Address, ServerPool, parse_servers

A = Address("a", 1)
B = Address("b", 2)


def server_side() -> gearproto.Connection:
    return gearproto.Connection(gearproto.SERVER)


def test_parse_servers() -> None:
    assert parse_servers("h1:1,h2, [::1]:3,[::2]") == [
        Address("h1", 1),
        Address("h2", 4730),
        Address("::1", 3),
        Address("::2", 4730),
    ]
    assert parse_servers(["x", ("y", 5), Address("z", 6), "x"]) == [
        Address("x"),
        Address("y", 5),
        Address("z", 6),
    ]
    assert str(Address("::1", 3)) == "[::1]:3"
    bad: Any
    for bad in ("", "h:notaport", []):
        with pytest.raises(ValueError):
            parse_servers(bad)


def test_pool_hashes_uniques_and_round_robins_the_rest() -> None:
    pool = ServerPool([A, B])
    assert pool.order(b"") == [A, B]
    assert pool.order(b"") == [B, A]
    first = [A, B][zlib.crc32(b"key") % 2]
    assert pool.order(b"key")[0] == first == pool.order(b"key")[0]


def test_pool_backs_off_a_failed_server_then_retries_it() -> None:
    now = [100.0]
    pool = ServerPool([A, B], clock=lambda: now[0])
    assert pool.failed(A) == 1.0
    assert pool.failed(A) == 2.0
    assert pool.backing_off(A)
    assert pool.order(b"") == [B, A]
    assert pool.order(b"") == [B, A]  # the dead one is tried last, not dropped
    now[0] += 2.5
    assert not pool.backing_off(A)
    pool.succeeded(A)
    assert pool.failed(A) == 1.0
    for _ in range(20):
        delay = pool.failed(B)
    assert delay == 60.0


def test_conversions() -> None:
    assert to_bytes("é") == "é".encode()
    assert to_bytes(None) == b""
    assert to_bytes(memoryview(b"ab")) == b"ab"
    with pytest.raises(TypeError):
        to_bytes(5)  # type: ignore[arg-type]
    assert result_bytes(None) == b""
    with pytest.raises(TypeError):
        result_bytes(3)
    assert priority("HIGH") is gearproto.Priority.HIGH  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        priority("urgent")  # type: ignore[arg-type]
    assert epoch_seconds(12.7) == 12


def test_client_session_pairs_submits_and_matches_results_by_handle() -> None:
    session = cc.ClientSession(A, client_id=b"me")
    server = server_side()
    server.receive_data(session.handshake())
    assert [type(e).__name__ for e in server.events()] == ["SetClientId", "OptionReq"]
    one = cc.make_task(b"f", b"1")
    two = cc.make_task(b"f", b"2")
    bg = cc.make_task(b"f", b"3", background=True)
    server.receive_data(session.submit(one) + session.submit(two) + session.submit(bg))
    reply = b"".join(
        server.send(e)
        for e in (
            gearproto.OptionRes(option=b"exceptions"),
            gearproto.JobCreated(handle=b"H:1"),
            gearproto.JobCreated(handle=b"H:10"),
            gearproto.JobCreated(handle=b"H:2"),
            gearproto.WorkData(handle=b"H:10", data=b"part"),
            gearproto.WorkComplete(handle=b"H:10", data=b"two"),
            gearproto.WorkException(handle=b"H:1", data=b"boom"),
        )
    )
    session.receive(reply)
    assert (one.handle, two.handle, bg.handle) == (b"H:1", b"H:10", b"H:2")
    assert bg.done and bg.outcome() == b"H:2"
    assert two.outcome() == b"two" and two.updates == [cc.Update("data", b"part")]
    with pytest.raises(JobException) as info:
        one.outcome()
    assert info.value.data == b"boom"
    assert not session.busy


def test_client_session_converted_exception_fail_with_trailing_nul() -> None:
    session = cc.ClientSession(A, exceptions=False)
    task = cc.make_task(b"f", b"")
    session.submit(task)
    server = server_side()
    session.receive(
        server.send(gearproto.JobCreated(handle=b"H:1"))
        + b"\0RES"
        + struct.pack(">II", 14, 4)
        + b"H:1\0"  # gearmand's WORK_FAIL quirk
    )
    with pytest.raises(JobFailed):
        task.outcome()


def test_client_session_same_unique_twice_on_one_connection() -> None:
    session = cc.ClientSession(A, exceptions=False)
    server = server_side()
    one, two = cc.make_task(b"f", b"", unique=b"u"), cc.make_task(b"f", b"", unique=b"u")
    session.submit(one)
    session.submit(two)
    events = [
        gearproto.JobCreated(handle=b"H:1"),
        gearproto.JobCreated(handle=b"H:1"),
        gearproto.WorkComplete(handle=b"H:1", data=b"r"),
        gearproto.WorkComplete(handle=b"H:1", data=b"r"),
    ]
    session.receive(b"".join(server.send(e) for e in events))
    assert one.outcome() == two.outcome() == b"r"


def test_client_session_error_and_loss() -> None:
    session = cc.ClientSession(A, exceptions=False)
    server = server_side()
    refused, created, unsent = (cc.make_task(b"f", b"%d" % i) for i in range(3))
    session.submit(refused)
    session.submit(created)
    session.receive(
        server.send(gearproto.Error(code=b"QUEUE_ERROR", text=b"Job queue is full"))
        + server.send(gearproto.JobCreated(handle=b"H:5"))
    )
    with pytest.raises(ServerError) as info:
        refused.outcome()
    assert info.value.code == b"QUEUE_ERROR"
    session.submit(unsent)
    session.receive(b"")
    assert session.eof
    resend = session.lost(ConnectionLost("gone"))
    assert resend == [unsent]
    with pytest.raises(ConnectionLost):
        created.outcome()


def worker_session(capacity: wc.Capacity, client_id: bytes = b"") -> wc.WorkerSession:
    functions = [wc.Function(b"f"), wc.Function(b"t", 2.5)]
    return wc.WorkerSession(A, functions, capacity, client_id=client_id)


def test_worker_session_grabs_only_with_a_free_slot() -> None:
    capacity = wc.Capacity(1)
    session = worker_session(capacity, client_id=b"w")
    server = server_side()
    server.receive_data(session.handshake())
    assert list(server.events()) == [
        gearproto.SetClientId(client_id=b"w"),
        gearproto.CanDo(function=b"f"),
        gearproto.CanDoTimeout(function=b"t", timeout=2500),
        gearproto.GrabJobAll(),
    ]
    assign = gearproto.JobAssign(handle=b"H:1", function=b"f", data=b"d", unique=b"u")
    out, jobs = session.receive(server.send(assign))
    assert out == b"" and jobs == [wc.JobInfo(b"H:1", b"f", b"d", b"u")]
    assert capacity.used == 1
    # Busy: a NOOP does not make it grab.
    assert session.grab() == b""
    server.receive_data(session.finish(gearproto.WorkComplete(handle=b"H:1", data=b"r")))
    capacity.release()
    server.receive_data(session.grab())
    assert [type(e) for e in server.events()] == [gearproto.WorkComplete, gearproto.GrabJobAll]
    out, _ = session.receive(server.send(gearproto.NoJob()))
    assert capacity.used == 0 and session.released
    server.receive_data(out)
    assert list(server.events()) == [gearproto.PreSleep()]
    assert session.sleeping
    out, _ = session.receive(server.send(gearproto.Noop()))
    server.receive_data(out)
    assert list(server.events()) == [gearproto.GrabJobAll()]


def test_worker_session_falls_back_to_grab_job() -> None:
    session = worker_session(wc.Capacity(2))
    session.handshake()
    server = server_side()
    out, _ = session.receive(
        server.send(gearproto.Error(code=b"INVALID_COMMAND", text=b"Command not expected"))
    )
    server.receive_data(out)
    assert list(server.events()) == [gearproto.GrabJob()]


def test_worker_session_stays_awake_while_holding_a_timed_job() -> None:
    capacity = wc.Capacity(2)
    session = worker_session(capacity)
    session.handshake()
    server = server_side()
    assign = gearproto.JobAssign(handle=b"H:1", function=b"t", data=b"")
    out, _ = session.receive(server.send(assign))
    server.receive_data(out)
    assert list(server.events()) == [gearproto.GrabJobAll()]
    out, _ = session.receive(server.send(gearproto.NoJob()))
    assert out == b"" and not session.sleeping  # no PRE_SLEEP: it would drop the timer
    assert session.poll() != b""


def test_outcome_mapping() -> None:
    assert wc.outcome(b"H", b"r") == gearproto.WorkComplete(handle=b"H", data=b"r")
    assert wc.outcome(b"H", None, failed=True) == gearproto.WorkFail(handle=b"H")
    assert wc.outcome(b"H", None, JobFailed()) == gearproto.WorkFail(handle=b"H")
    assert wc.outcome(b"H", None, KeyError("k")) == gearproto.WorkException(
        handle=b"H", data=b"KeyError: 'k'"
    )
    assert wc.outcome(b"H", None, KeyError("k"), exceptions=False) == gearproto.WorkFail(
        handle=b"H"
    )
    assert isinstance(wc.outcome(b"H", 42), gearproto.WorkException)
    with pytest.raises(ValueError):
        wc.Capacity(0)


def test_servers_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEARMAN_SERVERS", raising=False)
    assert parse_servers(None) == [Address("127.0.0.1", 4730)]
    monkeypatch.setenv("GEARMAN_SERVERS", "g1:1,g2")
    assert parse_servers(None) == [Address("g1", 1), Address("g2", 4730)]


def test_worker_session_polls_at_least_as_often_as_its_shortest_timeout() -> None:
    # Awake while holding a timed job, the worker gets no NOOP when the server takes the
    # job back after its CAN_DO_TIMEOUT: it must grab again on its own by then.
    session = worker_session(wc.Capacity(2))
    assert session.poll_interval(60.0) == 2.5
    assert session.poll_interval(None) == 2.5
    assert session.poll_interval(1.0) == 1.0
    untimed = wc.WorkerSession(A, [wc.Function(b"f")], wc.Capacity(1))
    assert untimed.poll_interval(60.0) == 60.0
    assert untimed.poll_interval(None) is None


def test_background_jobs_without_a_unique_get_a_generated_one() -> None:
    # Persistent queues key rows by (unique, function): empty uniques overwrite each
    # other there. Like libgearman, background submits get a UUID; the server is still
    # chosen round robin.
    first = cc.make_task(b"f", b"", background=True)
    second = cc.make_task(b"f", b"", epoch=1)
    assert len(first.request.unique) == len(second.request.unique) == 36
    assert first.request.unique != second.request.unique
    assert first.key == second.key == b""
    given = cc.make_task(b"f", b"", unique=b"mine", background=True)
    assert (given.request.unique, given.key) == (b"mine", b"mine")
    foreground = cc.make_task(b"f", b"")
    assert (foreground.request.unique, foreground.key) == (b"", b"")


def test_worker_session_asleep_grabs_after_registering_a_function() -> None:
    # Jobs of the new function may be queued already; no NOOP would announce them.
    session = worker_session(wc.Capacity(1))
    session.handshake()
    server = server_side()
    out, _ = session.receive(server.send(gearproto.NoJob()))
    assert session.sleeping
    server.receive_data(out + session.register(wc.Function(b"new")))
    events = list(server.events())
    assert [type(e) for e in events][-2:] == [gearproto.CanDo, gearproto.GrabJobAll]
    assert events[-2] == gearproto.CanDo(function=b"new")

"""Sending malformed events raises LocalProtocolError and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

import gearproto
from gearproto import CLIENT, SERVER, WORKER, Connection, LocalProtocolError, Role

F64 = b"f" * 513
U64 = b"u" * 64
H64 = b"H" * 64
E: Any = gearproto  # malformed events on purpose: no static checking

CASES: list[tuple[Role, Any, str]] = [
    (CLIENT, E.SubmitJob(function=b"a\0b"), "NUL"),
    (CLIENT, E.SubmitJob(function=F64), "limit is 512"),
    (CLIENT, E.SubmitJob(function=b"f", unique=U64), "limit is 63"),
    (CLIENT, E.SubmitJob(function=b"f", unique=b"u\0"), "NUL"),
    (CLIENT, E.SubmitJob(function="f"), "must be bytes"),
    (CLIENT, E.SubmitJob(function=b"f", data="text"), "must be bytes"),
    (CLIENT, E.SubmitJob(function=b"f", priority="high"), "bad priority"),
    (CLIENT, E.SubmitJob(function=b"f", priority=[1]), "bad priority"),
    (CLIENT, E.SubmitJob(function=b"f", background=None), "bad priority"),
    (CLIENT, E.SubmitJobEpoch(function=b"f", epoch=-1), "epoch"),
    (CLIENT, E.SubmitJobEpoch(function=b"f", epoch=2**63), "epoch"),
    (CLIENT, E.SubmitJobEpoch(function=b"f", epoch=1.5), "epoch"),
    (CLIENT, E.SubmitJobEpoch(function=b"f", epoch=True), "epoch"),
    (CLIENT, E.SubmitJobEpoch(function=b"f", unique=U64, epoch=1), "unique"),
    (CLIENT, E.SubmitReduceJob(function=b"f", reducer=b"r\0"), "reducer"),
    (CLIENT, E.SubmitReduceJob(function=b"f", reducer=F64), "reducer"),
    (CLIENT, E.SubmitReduceJob(function=b"f", reducer=b"r", aggregate=b"\0"), "aggregate"),
    (CLIENT, E.SubmitJobSched(function=b"f", minute=b"\0"), "minute"),
    (CLIENT, E.SubmitJobSched(function=b"f", day_of_week=b"1\0"), "day_of_week"),
    (CLIENT, E.GetStatus(handle=H64), "limit is 63"),
    (CLIENT, E.GetStatus(handle=b"H\0"), "NUL"),
    (CLIENT, E.GetStatusUnique(unique=U64), "limit is 63"),
    (CLIENT, E.EchoReq(data=None), "must be bytes"),
    (CLIENT, E.OptionReq(option=b"o" * 64), "limit is 63"),
    (CLIENT, E.SetClientId(client_id=b"c" * 255), "limit is 254"),
    (WORKER, E.CanDo(function=F64), "limit is 512"),
    (WORKER, E.CanDo(function=b"a\0"), "NUL"),
    (WORKER, E.CantDo(function=b"" + b"\0"), "NUL"),
    (WORKER, E.CanDoTimeout(function=b"f", timeout=-1), "timeout"),
    (WORKER, E.CanDoTimeout(function=b"f", timeout=2**31), "timeout"),
    (WORKER, E.CanDoTimeout(function=b"f", timeout="1"), "timeout"),
    (SERVER, E.JobCreated(handle=H64), "limit is 63"),
    (SERVER, E.JobAssign(handle=H64, function=b"f"), "handle"),
    (SERVER, E.JobAssign(handle=b"H", function=b"f\0"), "function"),
    (SERVER, E.JobAssign(handle=b"H", function=b"f", reducer=b"r"), "needs a unique"),
    (SERVER, E.JobAssign(handle=b"H", function=b"f", unique=b"u\0"), "unique"),
    (SERVER, E.JobAssign(handle=b"H", function=b"f", unique=b"u", reducer=b"\0"), "reducer"),
    (SERVER, E.JobAssign(handle=b"H", function=b"f", data=1), "must be bytes"),
    (SERVER, E.WorkComplete(handle=H64), "limit is 63"),
    (SERVER, E.WorkData(handle=b"H\0"), "NUL"),
    (SERVER, E.WorkStatus(handle=b"H", numerator=-1, denominator=1), "numerator"),
    (SERVER, E.WorkStatus(handle=b"H", numerator=1, denominator=2**32), "denominator"),
    (SERVER, E.WorkFail(handle=b"\0"), "NUL"),
    (SERVER, E.StatusRes(handle=b"H\0", known=True, running=False), "NUL"),
    (SERVER, E.StatusRes(handle=b"H", known=True, running=False, numerator=-1), "numerator"),
    (SERVER, E.StatusRes(handle=b"H", known=True, running=False, denominator=-1), "denominator"),
    (SERVER, E.StatusResUnique(unique=b"u\0", known=True, running=False), "NUL"),
    (SERVER, E.StatusResUnique(unique=b"u", known=1, running=0, client_count=-1), "client_count"),
    (SERVER, E.StatusResUnique(unique=b"u", known=1, running=0, denominator=-1), "denominator"),
    (SERVER, E.Error(code=b"X\0"), "NUL"),
    (SERVER, E.Error(code=b"X", text=0), "must be bytes"),
    (SERVER, E.OptionRes(option=b"\0"), "NUL"),
    (SERVER, E.EchoRes(data=None), "must be bytes"),
]


@pytest.mark.parametrize(("role", "event", "message"), CASES, ids=lambda x: repr(x)[:50])
def test_malformed_events_are_refused(role: Role, event: Any, message: str) -> None:
    conn = Connection(role)
    if role is WORKER and hasattr(event, "handle"):
        pytest.fail("worker cases must not need a held job")
    with pytest.raises(LocalProtocolError, match=message):
        conn.send(event)
    assert conn.state is gearproto.ConnectionState.OPEN
    assert conn.pending == ()
    assert conn.worker_state is gearproto.WorkerState.IDLE


def test_data_may_be_any_bytes_like() -> None:
    client = Connection(CLIENT)
    for data in (bytearray(b"ab"), memoryview(b"ab")):
        wire = client.send(E.SubmitJob(function=b"f", data=data))
        assert wire == b"\0REQ\0\0\0\x07\0\0\0\x05f\0\0ab"


def test_limits_are_inclusive() -> None:
    client = Connection(CLIENT)
    client.send(E.SubmitJob(function=b"f" * 512, unique=b"u" * 63))
    client.send(E.GetStatus(handle=b"H" * 63))
    client.send(E.SetClientId(client_id=b"c" * 254))
    client.send(E.SubmitJobEpoch(function=b"f", epoch=2**63 - 1))
    server = Connection(SERVER)
    server.send(E.WorkStatus(handle=b"H", numerator=2**32 - 1, denominator=0))
    server.send(E.OptionRes(option=b"o" * 1000))
    worker = Connection(WORKER)
    assert worker.send(E.CanDoTimeout(function=b"f", timeout=2**31 - 1)).endswith(b"2147483647")


def test_payload_over_4_gib_is_refused() -> None:
    class Huge(bytes):
        def __len__(self) -> int:
            return gearproto.MAX_PAYLOAD_SIZE + 1

    with pytest.raises(LocalProtocolError, match="4 GiB"):
        Connection(CLIENT).send(E.EchoReq(data=Huge(b"x")))

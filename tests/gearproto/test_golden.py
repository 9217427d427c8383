"""Golden bytes for every packet type, encoded and decoded through the public API."""

from __future__ import annotations

import struct

import pytest

import gearproto
from gearproto import CLIENT, SERVER, WORKER, Connection, PacketType
from gearproto.testing import GOLDEN, GoldenPacket, drain

WORK = (
    gearproto.WorkData,
    gearproto.WorkWarning,
    gearproto.WorkStatus,
    gearproto.WorkComplete,
    gearproto.WorkFail,
    gearproto.WorkException,
)
BOTH_WAYS = {12, 13, 14, 25, 28, 29}


def hold(conn: Connection, handle: bytes) -> None:
    """Make a worker connection hold the job ``handle``."""
    conn.send(gearproto.GrabJob())
    conn.receive_data(
        Connection(SERVER).send(gearproto.JobAssign(handle=handle, function=b"f", data=b""))
    )
    assert drain(conn) == [gearproto.JobAssign(handle=handle, function=b"f")]


def sender_for(golden: GoldenPacket) -> Connection:
    if golden.direction == "RES":
        return Connection(SERVER)
    conn = Connection(golden.peer)
    if isinstance(golden.event, WORK):
        hold(conn, golden.event.handle)
    return conn


def receiver_for(golden: GoldenPacket) -> Connection:
    if golden.direction == "REQ":
        return Connection(SERVER)
    conn = Connection(golden.peer)
    if golden.request is not None:
        conn.send(golden.request)
    return conn


def test_golden_covers_every_packet_type() -> None:
    types = {struct.unpack(">4sII", g.wire[:12])[1] for g in GOLDEN}
    assert types == {int(t) for t in PacketType}
    assert types == set(range(1, 43))
    both = {
        struct.unpack(">4sII", g.wire[:12])[1]
        for g in GOLDEN
        if g.direction == "RES" and g.wire[7] in BOTH_WAYS
    } & {struct.unpack(">4sII", g.wire[:12])[1] for g in GOLDEN if g.direction == "REQ"}
    assert both == BOTH_WAYS
    for g in GOLDEN:
        magic, _, size = struct.unpack(">4sII", g.wire[:12])
        assert magic == (b"\0REQ" if g.direction == "REQ" else b"\0RES")
        assert size == len(g.wire) - 12, g.name
        assert g.peer in (CLIENT, WORKER)


def test_golden_names_are_unique_enough() -> None:
    assert GOLDEN[0].name == "REQ-1-CanDo"
    assert len({(g.name, g.wire) for g in GOLDEN}) == len(GOLDEN)


@pytest.mark.parametrize("golden", GOLDEN, ids=lambda g: g.name)
def test_encode_matches_golden(golden: GoldenPacket) -> None:
    assert sender_for(golden).send(golden.event) == golden.wire
    parts = sender_for(golden).send_vectored(golden.event)
    assert b"".join(parts) == golden.wire
    assert all(parts)


@pytest.mark.parametrize("golden", GOLDEN, ids=lambda g: g.name)
@pytest.mark.parametrize("chunk", [None, 1])
def test_decode_golden(golden: GoldenPacket, chunk: int | None) -> None:
    conn = receiver_for(golden)
    got: list[gearproto.Event] = []
    pieces = [golden.wire] if chunk is None else [bytes([b]) for b in golden.wire]
    for piece in pieces:
        assert not got
        conn.receive_data(piece)
        got += drain(conn)
    assert got == [golden.event]
    assert type(got[0]) is type(golden.event)
    if golden.request is not None:
        assert getattr(got[0], "request", golden.request) is golden.request
    assert conn.next_event() is gearproto.NEED_DATA
    assert conn.pending == ()


def test_vectored_keeps_large_data_apart() -> None:
    data = b"x" * 100_000
    parts = Connection(CLIENT).send_vectored(gearproto.SubmitJob(function=b"f", data=data))
    assert parts == [b"\0REQ\0\0\0\x07\0\x01\x86\xa3f\0\0", data]
    assert parts[1] is data


def test_job_assign_variants_are_distinct() -> None:
    assigns = [g for g in GOLDEN if isinstance(g.event, gearproto.JobAssign)]
    assert [g.wire[7] for g in assigns] == [11, 31, 40]


def test_extra_payload_on_empty_packets_is_ignored() -> None:
    conn = Connection(SERVER)
    conn.receive_data(b"\0REQ\0\0\0\x09\0\0\0\x03abc" + b"\0REQ\0\0\0\x03\0\0\0\0")
    assert drain(conn) == [gearproto.GrabJob(), gearproto.ResetAbilities()]


def test_numbers_are_parsed_like_atoi() -> None:
    conn = Connection(CLIENT)
    conn.send(gearproto.GetStatus(handle=b"H"))
    conn.send(gearproto.GetStatusUnique(unique=b"u"))
    conn.receive_data(
        b"\0RES\0\0\0\x14\0\0\0\x0eH\0 7\x00x\0+12z\0-3"
        b"\0RES\0\0\0\x2a\0\0\0\x0cu\x001\x001\0\0\0junk"
    )
    assert drain(conn) == [
        gearproto.StatusRes(handle=b"H", known=True, running=False, numerator=12, denominator=-3),
        gearproto.StatusResUnique(unique=b"u", known=True, running=True, client_count=0),
    ]
    server = Connection(SERVER)
    server.receive_data(
        b"\0REQ\0\0\0\x17\0\0\0\x04f\0 9" + b"\0REQ\0\0\0\x24\0\0\0\x09f\0u\0abc\0d"
    )
    assert drain(server) == [
        gearproto.CanDoTimeout(function=b"f", timeout=9),
        gearproto.SubmitJobEpoch(function=b"f", unique=b"u", epoch=0, data=b"d"),
    ]

"""Large packets: collected read by read, split anywhere, with packets after them."""

from __future__ import annotations

import struct

import pytest

import gearproto
from gearproto import CLIENT, SERVER, WORKER, Connection, RemoteProtocolError
from gearproto.testing import drain, split_wire

MIB = 1024 * 1024
PAYLOAD = bytes(range(256)) * (3 * MIB // 256) + b"tail"  # 3 MiB + 4, NULs inside
NEXT = b"\0RES\0\0\0\x1c\0\0\0\x06H:1\0ok"  # WORK_DATA H:1 "ok"


def big_complete(data: bytes = PAYLOAD) -> bytes:
    return b"\0RES\0\0\0\x0d" + struct.pack(">I", 4 + len(data)) + b"H:1\0" + data


def feed(conn: Connection, wire: bytes, chunk: int | list[int]) -> list[gearproto.Event]:
    events: list[gearproto.Event] = []
    for piece in split_wire(wire, chunk):
        conn.receive_data(piece)
        events += drain(conn)
    return events


@pytest.mark.parametrize(
    "chunk", [65536, 65537, 7919, [5, 3, 70000, 1, 1, 1, 999_999], [16 + 2 * MIB]]
)
def test_large_packet_then_more_in_the_same_read(chunk: int | list[int]) -> None:
    conn = Connection(CLIENT)
    events = feed(conn, big_complete() + NEXT + NEXT, chunk)
    assert events == [
        gearproto.WorkComplete(handle=b"H:1", data=PAYLOAD),
        gearproto.WorkData(handle=b"H:1", data=b"ok"),
        gearproto.WorkData(handle=b"H:1", data=b"ok"),
    ]
    assert conn.next_event() is gearproto.NEED_DATA


def test_large_packet_exactly_filled_then_next_read() -> None:
    conn = Connection(CLIENT)
    wire = big_complete()
    assert feed(conn, wire[:100_000], 100_000) == []
    conn.receive_data(wire[100_000:])
    conn.receive_data(NEXT)
    assert drain(conn) == [
        gearproto.WorkComplete(handle=b"H:1", data=PAYLOAD),
        gearproto.WorkData(handle=b"H:1", data=b"ok"),
    ]


def test_fixed_prefix_split_across_reads() -> None:
    data = b"d" * 100_000
    wire = b"\0REQ\0\0\0\x25" + struct.pack(">I", 19 + len(data))
    wire += b"mapper\0u1\0reducer\0\0" + data  # SUBMIT_REDUCE_JOB: four fixed fields
    expected = gearproto.SubmitReduceJob(
        function=b"mapper", unique=b"u1", reducer=b"reducer", data=data
    )
    for cut in range(12, 33):
        conn = Connection(SERVER)
        assert feed(conn, wire, [cut, 1, 40_000]) == [expected], cut


def test_header_only_then_body() -> None:
    conn = Connection(SERVER)
    data = b"e" * 50_000
    wire = b"\0REQ\0\0\0\x10" + struct.pack(">I", len(data)) + data  # ECHO_REQ, no fields
    assert feed(conn, wire, [12, 1, 49_999]) == [gearproto.EchoReq(data=data)]


def test_large_assign_to_worker() -> None:
    w = Connection(WORKER)
    w.send(gearproto.GrabJobAll())
    wire = Connection(SERVER).send(
        gearproto.JobAssign(handle=b"H:1", function=b"f", unique=b"u", reducer=b"r", data=PAYLOAD)
    )
    [assign] = feed(w, wire, 65536)
    assert assign == gearproto.JobAssign(
        handle=b"H:1", function=b"f", unique=b"u", reducer=b"r", data=PAYLOAD
    )
    assert w.jobs == {b"H:1"}


def test_missing_nul_in_large_packet_prefix() -> None:
    conn = Connection(SERVER, max_field_size=100)
    wire = b"\0REQ\0\0\0\x07" + struct.pack(">I", 200_000) + b"f" * 150
    with pytest.raises(RemoteProtocolError, match="NUL") as info:
        feed(conn, wire, [60, 60, 60])
    assert info.value.error_hint is None


def test_large_packet_truncated_at_eof() -> None:
    conn = Connection(CLIENT)
    feed(conn, big_complete()[: 2 * MIB], 65536)
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="closed in the middle"):
        conn.next_event()


def test_large_packet_truncated_before_it_was_started() -> None:
    conn = Connection(CLIENT)
    conn.receive_data(big_complete()[:100_000])
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="closed in the middle"):
        conn.next_event()


def test_large_packet_over_the_limit_is_refused_at_the_header() -> None:
    conn = Connection(CLIENT, max_packet_size=MIB)
    conn.receive_data(big_complete()[:12])
    with pytest.raises(RemoteProtocolError, match="max_packet_size"):
        conn.next_event()


def test_send_large_is_vectored() -> None:
    conn = Connection(SERVER)
    head, data = conn.send_vectored(gearproto.WorkComplete(handle=b"H:1", data=PAYLOAD))
    assert data is PAYLOAD
    assert head + data == big_complete()


def test_receive_data_takes_any_bytes_like() -> None:
    conn = Connection(CLIENT)
    wire = big_complete() + NEXT
    conn.receive_data(bytearray(wire[:70_000]))
    conn.receive_data(memoryview(wire)[70_000:])
    assert drain(conn) == [
        gearproto.WorkComplete(handle=b"H:1", data=PAYLOAD),
        gearproto.WorkData(handle=b"H:1", data=b"ok"),
    ]

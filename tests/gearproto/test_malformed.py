"""Malformed input: each case raises RemoteProtocolError with gearmand's hint, then poisons."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gearproto
from gearproto import CLIENT, SERVER, WORKER, Connection, Error, RemoteProtocolError, Role
from gearproto.testing import GOLDEN, drain

INVALID_MAGIC = Error(code=b"INVALID_MAGIC", text=b"Request magic expected")
INVALID_COMMAND = Error(code=b"INVALID_COMMAND", text=b"Command not expected")
NEXT = b"\0REQ\0\0\0\x10\0\0\0\x03a\0b"  # a valid ECHO_REQ that must not be swallowed


def header(magic: bytes, ptype: int, size: int) -> bytes:
    return magic + struct.pack(">II", ptype, size)


# (id, role, limits, reads (b"" = EOF), hint, message fragment)
CASES: list[tuple[str, Role, dict[str, int], list[bytes], Error | None, str]] = [
    ("bad magic", SERVER, {}, [b"\0REX" + bytes(8)], None, "bad magic"),
    ("bad magic partial", SERVER, {}, [b"\0RX"], None, "bad magic"),
    ("bad magic to client", CLIENT, {}, [b"\0ABC\0\0\0\x06\0\0\0\0"], None, "bad magic"),
    ("RES magic to server", SERVER, {}, [header(b"\0RES", 7, 0)], INVALID_MAGIC, "RES magic"),
    ("RES magic ECHO", SERVER, {}, [header(b"\0RES", 16, 1) + b"x"], INVALID_MAGIC, "RES"),
    (
        "RES-only JOB_CREATED to server",
        SERVER,
        {},
        [header(b"\0REQ", 8, 1) + b"H"],
        INVALID_COMMAND,
        "server-to-client",
    ),
    ("RES-only NOOP to server", SERVER, {}, [header(b"\0REQ", 6, 0)], INVALID_COMMAND, "NOOP"),
    (
        "RES-only STATUS_RES_UNIQUE",
        SERVER,
        {},
        [header(b"\0REQ", 42, 0)],
        INVALID_COMMAND,
        "STATUS_RES_UNIQUE",
    ),
    ("REQ magic to client", CLIENT, {}, [header(b"\0REQ", 13, 2) + b"H\0"], None, "may not"),
    ("REQ magic to worker", WORKER, {}, [header(b"\0REQ", 6, 0)], None, "may not"),
    ("REQ-only type to client", CLIENT, {}, [header(b"\0RES", 7, 2) + b"\0\0"], None, "may not"),
    ("type 0 to server", SERVER, {}, [header(b"\0REQ", 0, 0)], None, "unknown packet type 0"),
    ("type 43 to server", SERVER, {}, [header(b"\0REQ", 43, 0)], None, "unknown packet type"),
    ("type 2**32-1", SERVER, {}, [header(b"\0REQ", 2**32 - 1, 0)], None, "unknown"),
    ("type 0 RES to server", SERVER, {}, [header(b"\0RES", 0, 0)], None, "unknown"),
    ("type 43 to client", CLIENT, {}, [header(b"\0RES", 43, 0)], None, "unknown"),
    (
        "size over max_packet_size",
        SERVER,
        {"max_packet_size": 100},
        [header(b"\0REQ", 7, 101)],
        None,
        "max_packet_size",
    ),
    (
        "size over max_packet_size client",
        CLIENT,
        {"max_packet_size": 0},
        [header(b"\0RES", 13, 1)],
        None,
        "max_packet_size",
    ),
    ("size 4 GiB", SERVER, {}, [header(b"\0REQ", 16, 2**32 - 1)], None, "max_packet_size"),
    (
        "data-less over max_field_size",
        SERVER,
        {},
        [header(b"\0REQ", 1, 8193)],
        None,
        "max_field_size",
    ),
    (
        "STATUS_RES over max_field_size",
        CLIENT,
        {"max_field_size": 10},
        [header(b"\0RES", 20, 11)],
        None,
        "max_field_size",
    ),
    (
        "missing NUL in SUBMIT_JOB",
        SERVER,
        {},
        [header(b"\0REQ", 7, 5) + b"abcde" + NEXT],
        None,
        "NUL",
    ),
    ("one NUL in SUBMIT_JOB", SERVER, {}, [header(b"\0REQ", 7, 4) + b"ab\0c" + NEXT], None, "NUL"),
    (
        "missing NUL in WORK_STATUS",
        SERVER,
        {},
        [header(b"\0REQ", 12, 3) + b"H:1" + NEXT],
        None,
        "NUL",
    ),
    ("missing NUL in ERROR", CLIENT, {}, [header(b"\0RES", 19, 4) + b"CODE"], None, "NUL"),
    (
        "fixed field over max_field_size",
        SERVER,
        {"max_field_size": 4},
        [header(b"\0REQ", 13, 8) + b"H:12345\0"],
        None,
        "NUL",
    ),
    ("over-long admin line", SERVER, {}, [b"s" * 8192], None, "longer than 8192"),
    (
        "over-long admin line in pieces",
        SERVER,
        {"max_line_size": 10},
        [b"stat", b"us", b"eslong", b"\n"],
        None,
        "longer than 10",
    ),
    ("truncated header at EOF", SERVER, {}, [b"\0REQ\0\0", b""], None, "closed in the middle"),
    (
        "truncated body at EOF",
        SERVER,
        {},
        [header(b"\0REQ", 7, 13) + b"rev", b""],
        None,
        "closed in the middle",
    ),
    (
        "truncated empty body at EOF",
        CLIENT,
        {},
        [header(b"\0RES", 13, 6), b""],
        None,
        "closed in the middle",
    ),
    ("truncated admin line at EOF", SERVER, {}, [b"status", b""], None, "closed in the middle"),
    ("text reply with nothing pending", CLIENT, {}, [b"OK\r\n"], None, "no admin command"),
    ("text to a worker", WORKER, {}, [b".\n"], None, "no admin command"),
    (
        "epoch out of range",
        SERVER,
        {},
        [header(b"\0REQ", 36, 26) + b"f\0u\0" + b"9" * 20 + b"\0d"],
        None,
        "epoch",
    ),
    (
        "CAN_DO_TIMEOUT over 20 digits",
        SERVER,
        {},
        [header(b"\0REQ", 23, 23) + b"f\0" + b"1" * 21],
        None,
        "20 digits",
    ),
    (
        "CAN_DO_TIMEOUT overflow",
        SERVER,
        {},
        [header(b"\0REQ", 23, 22) + b"f\0" + b"9" * 20],
        None,
        "out of range",
    ),
    (
        "CAN_DO_TIMEOUT LONG_MIN",
        SERVER,
        {},
        [header(b"\0REQ", 23, 22) + b"f\0-9223372036854775808"],
        None,
        "out of range",
    ),
]


@pytest.mark.parametrize(
    ("role", "limits", "reads", "hint", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_malformed_input(
    role: Role, limits: dict[str, int], reads: list[bytes], hint: Error | None, message: str
) -> None:
    conn = Connection(role, **limits)
    with pytest.raises(RemoteProtocolError, match=message) as info:
        for data in reads:
            conn.receive_data(data)
            drain(conn)
    assert info.value.error_hint == hint
    assert conn.state is gearproto.ConnectionState.ERROR
    with pytest.raises(RemoteProtocolError, match="ERROR state"):
        conn.next_event()
    if role is SERVER:
        # The server can still tell the peer what went wrong before closing.
        assert conn.send(hint or Error(code=b"X")).startswith(b"\0RES\0\0\0\x13")
    else:
        with pytest.raises(gearproto.LocalProtocolError, match="ERROR state"):
            conn.send(gearproto.EchoReq())


def test_oversize_header_is_refused_before_the_body() -> None:
    conn = Connection(SERVER, max_packet_size=1024)
    conn.receive_data(header(b"\0REQ", 7, 1025)[:11])
    assert conn.next_event() is gearproto.NEED_DATA
    conn.receive_data(header(b"\0REQ", 7, 1025)[11:])
    with pytest.raises(RemoteProtocolError, match="max_packet_size 1024"):
        conn.next_event()


def test_largest_legal_sizes_pass() -> None:
    conn = Connection(SERVER, max_packet_size=5, max_field_size=5, max_line_size=8)
    conn.receive_data(header(b"\0REQ", 16, 5) + b"12345" + header(b"\0REQ", 1, 5) + b"abcde")
    conn.receive_data(b"status\r\n")
    assert drain(conn) == [
        gearproto.EchoReq(data=b"12345"),
        gearproto.CanDo(function=b"abcde"),
        gearproto.AdminCommand(command=b"status"),
    ]


def test_receive_after_eof_is_a_local_error() -> None:
    conn = Connection(CLIENT)
    conn.receive_data(b"")
    with pytest.raises(gearproto.LocalProtocolError):
        conn.receive_data(b"x")
    assert drain(conn) == [gearproto.ConnectionClosed()]
    assert conn.next_event() == gearproto.ConnectionClosed()


@pytest.mark.parametrize(
    ("args", "kwargs", "exc"),
    [
        (("client",), {}, TypeError),
        ((CLIENT,), {"max_packet_size": -1}, ValueError),
        ((CLIENT,), {"max_packet_size": 2**32 - 1}, ValueError),
        ((SERVER,), {"max_field_size": 0}, ValueError),
        ((SERVER,), {"max_line_size": 1}, ValueError),
    ],
)
def test_bad_connection_arguments(
    args: tuple[object, ...], kwargs: dict[str, int], exc: type[Exception]
) -> None:
    with pytest.raises(exc):
        Connection(*args, **kwargs)  # type: ignore[arg-type]  # wrong types on purpose


def test_max_payload_size_is_accepted() -> None:
    conn = Connection(SERVER, max_packet_size=gearproto.MAX_PAYLOAD_SIZE)
    conn.receive_data(header(b"\0REQ", 16, gearproto.MAX_PAYLOAD_SIZE) + b"x" * 100)
    assert conn.next_event() is gearproto.NEED_DATA


# --------------------------------------------------------------------------- fuzz

ANSWERS = [
    gearproto.SubmitJob(function=b"f"),
    gearproto.GetStatus(handle=b"H"),
    gearproto.GetStatusUnique(unique=b"u"),
    gearproto.EchoReq(),
    gearproto.OptionReq(option=b"exceptions"),
    gearproto.AdminCommand(command=b"status"),
    gearproto.AdminCommand(command=b"workers"),
    gearproto.AdminCommand(command=b"show", args=(b"jobs",)),
    gearproto.AdminCommand(command=b"getpid"),
    gearproto.AdminCommand(command=b"cancel", args=(b"job", b"H")),
    gearproto.AdminCommand(command=b"bogus"),
]
WIRES = [g.wire for g in GOLDEN] + [
    b"status\n",
    b"OK 12\n",
    b"f\t1\t2\t3\n.\n",
    b"1 ::1 - : f\n.\n",
    b"ERR X y\r\n",
    b"OK\r\n",
]


def mutate(wire: bytes, edits: list[tuple[int, int]]) -> bytes:
    data = bytearray(wire)
    for pos, value in edits:
        if data:
            data[pos % len(data)] = value
    return bytes(data)


wires = st.one_of(
    st.binary(max_size=64),
    st.lists(
        st.builds(
            mutate,
            st.sampled_from(WIRES),
            st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=2),
        ),
        max_size=6,
    ).map(b"".join),
)


@settings(max_examples=300, deadline=None)
@given(
    role=st.sampled_from([CLIENT, WORKER, SERVER]),
    data=wires,
    cuts=st.lists(st.integers(1, 20), max_size=10),
    requests=st.lists(st.sampled_from(ANSWERS), max_size=4),
    grab=st.booleans(),
    eof=st.booleans(),
)
def test_fuzz_only_remote_protocol_error_escapes(
    role: Role,
    data: bytes,
    cuts: list[int],
    requests: list[gearproto.Event],
    grab: bool,
    eof: bool,
) -> None:
    conn = Connection(role, max_packet_size=4096, max_field_size=64, max_line_size=64)
    if role is not SERVER:
        for request in requests:
            if role is CLIENT or not isinstance(
                request, (gearproto.SubmitJob, gearproto.GetStatus, gearproto.GetStatusUnique)
            ):
                conn.send(request)
        if role is WORKER and grab:
            conn.send(gearproto.GrabJobAll())
    pieces = []
    pos = 0
    for cut in cuts:
        pieces.append(data[pos : pos + cut])
        pos += cut
    pieces.append(data[pos:])
    pieces = [piece for piece in pieces if piece]
    if eof:
        pieces.append(b"")
    try:
        for piece in pieces:
            conn.receive_data(piece)
            for event in conn.events():
                assert isinstance(event, gearproto.Event)
    except RemoteProtocolError:
        assert conn.state is gearproto.ConnectionState.ERROR

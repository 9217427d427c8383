"""The admin text protocol: every command's reply, formatted by a server, parsed by a client."""

from __future__ import annotations

import pytest

import gearproto
from gearproto import (
    CLIENT,
    SERVER,
    AdminCommand,
    AdminError,
    AdminLines,
    AdminOk,
    Connection,
    FunctionPriorityStatus,
    FunctionStatus,
    JobInfo,
    LocalProtocolError,
    PidReply,
    PriorityStatusReply,
    RemoteProtocolError,
    ShowJobsReply,
    ShowUniqueJobsReply,
    StatusReply,
    VerboseReply,
    VersionReply,
    WorkerInfo,
    WorkersReply,
)
from gearproto.testing import ConnectionPair, drain


def cmd(line: bytes) -> AdminCommand:
    word, *args = line.split(b" ")
    return AdminCommand(command=word, args=tuple(args))


# (command line, reply event, exact bytes gearmand writes)
REPLIES: list[tuple[bytes, gearproto.Event, bytes]] = [
    (b"status", StatusReply(), b".\n"),
    (
        b"status",
        StatusReply(
            functions=(
                FunctionStatus(function=b"reverse", total=2, running=1, workers=3),
                FunctionStatus(function=b"tab\tname", total=0, running=0, workers=0),
            )
        ),
        b"reverse\t2\t1\t3\ntab\tname\t0\t0\t0\n.\n",
    ),
    (b"prioritystatus", PriorityStatusReply(), b".\n"),
    (
        b"prioritystatus",
        PriorityStatusReply(
            functions=(
                FunctionPriorityStatus(function=b"reverse", high=1, normal=2, low=3, workers=4),
            )
        ),
        b"reverse\t1\t2\t3\t4\n.\n",
    ),
    (b"workers", WorkersReply(), b".\n"),
    (
        b"workers",
        WorkersReply(
            workers=(
                WorkerInfo(fd=30, address=b"127.0.0.1", client_id=b"-", functions=(b"rev", b"up")),
                WorkerInfo(fd=31, address=b"::1", client_id=b"worker-1"),
            )
        ),
        b"30 127.0.0.1 - : rev up\n31 ::1 worker-1 :\n.\n",
    ),
    (b"show jobs", ShowJobsReply(), b".\n"),
    (
        b"show jobs",
        ShowJobsReply(
            jobs=(
                JobInfo(handle=b"H:lap:1", retries=0, ignored=False, persisted=True),
                JobInfo(handle=b"H:lap:2", retries=3, ignored=True, persisted=False),
            )
        ),
        b"H:lap:1\t0\t0\t1\nH:lap:2\t3\t1\t0\n.\n",
    ),
    (b"show unique jobs", ShowUniqueJobsReply(), b".\n"),
    (b"SHOW UNIQUE JOBS", ShowUniqueJobsReply(uniques=(b"u1", b"")), b"u1\n\n.\n"),
    (b"version", VersionReply(version=b"1.1.20"), b"OK 1.1.20\n"),
    (b"getpid", PidReply(pid=4242), b"OK 4242\n"),
    (b"verbose", VerboseReply(level=b"INFO"), b"OK INFO\n"),
    (b"maxqueue reverse 10", AdminOk(), b"OK\r\n"),
    (
        b"maxqueue",
        AdminError(
            code=b"INVALID_ARGUMENTS",
            text=b"An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue",
        ),
        (
            b"ERR INVALID_ARGUMENTS "
            b"An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\r\n"
        ),
    ),
    (b"cancel job H:lap:1", AdminOk(), b"OK\r\n"),
    (b"cancel job H:lap:9", AdminError(code=b"UNKNOWN_JOB"), b"ERR UNKNOWN_JOB\r\n"),
    (b"cancel x y", AdminError(code=b"UNKNOWN_ERROR"), b"ERR UNKNOWN_ERROR\r\n"),
    (b"create function reverse", AdminOk(), b"OK\r\n"),
    (
        b"create function",
        AdminError(
            code=b"INVALID_ARGUMENTS",
            text=b"An+incomplete+set+of+arguments+was+sent+to+this+command+create",
        ),
        (
            b"ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create"
            b"\r\n"
        ),
    ),
    (b"drop function reverse", AdminOk(), b"OK\r\n"),
    (
        b"drop function reverse",
        AdminError(code=b"there", text=b"are still connected workers or executing clients"),
        b"ERR there are still connected workers or executing clients\r\n",
    ),
    (
        b"drop function nothing",
        AdminError(code=b"function", text=b"not found"),
        b"ERR function not found\r\n",
    ),
    (
        b"bogus",
        AdminError(code=b"UNKNOWN_COMMAND", text=b"Unknown+server+commandbogus"),
        b"ERR UNKNOWN_COMMAND Unknown+server+commandbogus\r\n",
    ),
    (b"status", AdminError(code=b"UNKNOWN_COMMAND"), b"ERR UNKNOWN_COMMAND\r\n"),
    (b"show foo", AdminError(code=b"UNKNOWN_COMMAND"), b"ERR UNKNOWN_COMMAND\r\n"),
    # Commands gearproto has no type for: an OK line, or a list (the Perl server's `jobs`).
    (b"shutdown", AdminOk(), b"OK\r\n"),
    (b"shutdown graceful", AdminOk(text=b"bye"), b"OK bye\n"),
    (b"jobs", AdminLines(lines=(b"reverse\t1", b"")), b"reverse\t1\n\n.\n"),
    (b"clients", AdminLines(), b".\n"),
]


@pytest.mark.parametrize(("line", "reply", "wire"), REPLIES, ids=lambda x: repr(x)[:40])
@pytest.mark.parametrize("chunk", [None, 1, 3])
def test_reply_both_ways(
    line: bytes, reply: gearproto.Event, wire: bytes, chunk: int | None
) -> None:
    pair = ConnectionPair(CLIENT)
    assert pair.send(CLIENT, cmd(line), chunk=chunk) == line + b"\r\n"
    assert pair.peer.pending == (cmd(line),)
    assert pair.send(SERVER, reply, chunk=chunk) == wire
    assert not pair.peer.pending


@pytest.mark.parametrize(
    ("line", "wire", "reply"),
    [
        (
            b"status",
            b"reverse\t2\t1\t3\r\n.\r\n",
            StatusReply(
                functions=(FunctionStatus(function=b"reverse", total=2, running=1, workers=3),)
            ),
        ),
        (b"cancel job H:1", b"OK\n", AdminOk()),
        (b"version", b"OK\r\n", VersionReply(version=b"")),
        (
            b"workers",
            b"1 a b :x  y\n.\n",
            WorkersReply(
                workers=(WorkerInfo(fd=1, address=b"a", client_id=b"b", functions=(b"x", b"y")),)
            ),
        ),
        (b"getpid", b"ERR\r\n", AdminError(code=b"")),
        (
            b"version",
            b"ERR UNKNOWN_COMMAND x y\r\n",
            AdminError(code=b"UNKNOWN_COMMAND", text=b"x y"),
        ),
    ],
)
def test_client_is_lenient_about_line_endings(
    line: bytes, wire: bytes, reply: gearproto.Event
) -> None:
    conn = Connection(CLIENT)
    conn.send(cmd(line))
    conn.receive_data(wire)
    assert drain(conn) == [reply]


def test_replies_pair_in_order_with_binary_between() -> None:
    conn = Connection(CLIENT)
    conn.send(AdminCommand(command=b"status"))
    conn.send(gearproto.EchoReq(data=b"x"))
    conn.send(AdminCommand(command=b"version"))
    conn.receive_data(b"f\t1\t0\t1\n.\n\0RES\0\0\0\x11\0\0\0\x01xOK 1.2\n")
    events = drain(conn)
    assert events == [
        StatusReply(functions=(FunctionStatus(function=b"f", total=1, running=0, workers=1),)),
        gearproto.EchoRes(data=b"x"),
        VersionReply(version=b"1.2"),
    ]
    assert conn.pending == ()


def test_error_packet_does_not_answer_admin_command() -> None:
    conn = Connection(CLIENT)
    conn.send(AdminCommand(command=b"status"))
    conn.receive_data(b"\0RES\0\0\0\x13\0\0\0\x03X\0y")
    [error] = drain(conn)
    assert error == gearproto.Error(code=b"X", text=b"y")
    assert error.request is None
    assert len(conn.pending) == 1


@pytest.mark.parametrize(
    ("wire", "command"),
    [
        (b"status\n", AdminCommand(command=b"status")),
        (b"STATUS\r\n", AdminCommand(command=b"STATUS")),
        (b"  show   unique  jobs \r\n", AdminCommand(command=b"show", args=(b"unique", b"jobs"))),
        (b"cancel\tjob H\n", AdminCommand(command=b"cancel\tjob", args=(b"H",))),
        (b"\n", AdminCommand(command=b"")),
        (b"\r\n", AdminCommand(command=b"")),
        (b"maxqueue f 1 2 3\n", AdminCommand(command=b"maxqueue", args=(b"f", b"1", b"2", b"3"))),
    ],
)
def test_server_parses_command_lines(wire: bytes, command: AdminCommand) -> None:
    conn = Connection(SERVER)
    for byte in wire:
        assert drain(conn) == []
        conn.receive_data(bytes([byte]))
    assert drain(conn) == [command]


def test_server_interleaves_text_and_binary() -> None:
    conn = Connection(SERVER)
    conn.receive_data(b"status\n\0REQ\0\0\0\x10\0\0\0\x01xworkers\n")
    assert drain(conn) == [
        AdminCommand(command=b"status"),
        gearproto.EchoReq(data=b"x"),
        AdminCommand(command=b"workers"),
    ]


def test_long_list_reply_is_parsed_in_pieces() -> None:
    rows = tuple(
        FunctionStatus(function=b"f%d" % i, total=i, running=0, workers=1) for i in range(2000)
    )
    pair = ConnectionPair(CLIENT)
    pair.send(CLIENT, AdminCommand(command=b"status"))
    pair.send(SERVER, StatusReply(functions=rows), chunk=4096)


@pytest.mark.parametrize(
    ("line", "wire"),
    [
        (b"status", b"reverse\t2\t1\n.\n"),
        (b"status", b"reverse\t2\tx\t1\n.\n"),
        (b"prioritystatus", b"reverse\t1\t2\t3\n.\n"),
        (b"workers", b"30 127.0.0.1 -\n.\n"),
        (b"workers", b"30 127.0.0.1 :\n.\n"),
        (b"workers", b"x 127.0.0.1 - :\n.\n"),
        (b"show jobs", b"H:1\t0\t0\n.\n"),
        (b"getpid", b"OK abc\n"),
        (b"version", b"1.1.20\n"),
        (b"cancel job H", b"DONE\r\n"),
    ],
)
def test_malformed_replies(line: bytes, wire: bytes) -> None:
    conn = Connection(CLIENT)
    conn.send(cmd(line))
    conn.receive_data(wire)
    with pytest.raises(RemoteProtocolError) as info:
        drain(conn)
    assert info.value.error_hint is None
    assert conn.state is gearproto.ConnectionState.ERROR


def test_list_reply_limited_by_max_packet_size() -> None:
    conn = Connection(CLIENT, max_packet_size=64)
    conn.send(AdminCommand(command=b"show", args=(b"unique", b"jobs")))
    conn.receive_data(b"u" * 40 + b"\n" + b"v" * 40 + b"\n")
    with pytest.raises(RemoteProtocolError, match="longer than"):
        drain(conn)


@pytest.mark.parametrize(
    "command",
    [
        AdminCommand(command=b""),
        AdminCommand(command=b"show", args=(b"unique jobs",)),
        AdminCommand(command=b"status\n"),
        AdminCommand(command=b"st\rtus"),
        AdminCommand(command=b"st\0tus"),
        AdminCommand(command=b"show", args=(b"",)),
        # str or int words, as an untyped caller might pass: refused, not sent.
        AdminCommand(command="status"),  # type: ignore[arg-type]
        AdminCommand(command=b"cancel", args=(b"job", 1)),  # type: ignore[arg-type]
    ],
)
def test_bad_admin_commands_are_refused(command: AdminCommand) -> None:
    conn = Connection(CLIENT)
    with pytest.raises(LocalProtocolError):
        conn.send(command)
    assert conn.pending == ()
    conn.send(AdminCommand(command=b"status"))


def test_only_the_server_sends_replies_and_peers_send_commands() -> None:
    with pytest.raises(LocalProtocolError):
        Connection(CLIENT).send(AdminOk())
    with pytest.raises(LocalProtocolError):
        Connection(SERVER).send(AdminCommand(command=b"status"))
    assert Connection(gearproto.WORKER).send(AdminCommand(command=b"status")) == b"status\r\n"


@pytest.mark.parametrize("wire", [b"f\t1\t0\t1\n", b"f\t1\t0\t1\n.", b"f\t1", b"OK"])
def test_admin_reply_truncated_at_eof(wire: bytes) -> None:
    conn = Connection(CLIENT)
    conn.send(AdminCommand(command=b"status" if wire[:1] == b"f" else b"version"))
    conn.receive_data(wire)
    assert drain(conn) == []
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="closed in the middle"):
        drain(conn)
    assert conn.state is gearproto.ConnectionState.ERROR


def test_eof_before_any_reply_is_a_plain_close() -> None:
    conn = Connection(CLIENT)
    conn.send(AdminCommand(command=b"status"))
    conn.receive_data(b"")
    assert drain(conn) == [gearproto.ConnectionClosed()]
    assert len(conn.pending) == 1


@pytest.mark.parametrize(
    ("command", "wire", "expected"),
    [
        # A function may be called "ERR x": a row with tabs is a row.
        (
            b"status",
            b"ERR x\t1\t0\t2\n.\n",
            StatusReply(
                functions=(FunctionStatus(function=b"ERR x", total=1, running=0, workers=2),)
            ),
        ),
        # So may a unique id; gearmand ends its ERR lines with CRLF, its rows with LF.
        (b"show unique jobs", b"ERR x\n.\n", ShowUniqueJobsReply(uniques=(b"ERR x",))),
        (b"status", b"ERR UNKNOWN_COMMAND x\n", AdminError(code=b"UNKNOWN_COMMAND", text=b"x")),
        (
            b"show unique jobs",
            b"ERR UNKNOWN_SHOW_ARGUMENTS\r\n",
            AdminError(code=b"UNKNOWN_SHOW_ARGUMENTS"),
        ),
    ],
)
def test_rows_that_look_like_errors(command: bytes, wire: bytes, expected: object) -> None:
    conn = Connection(CLIENT)
    words = command.split()
    conn.send(AdminCommand(command=words[0], args=tuple(words[1:])))
    conn.receive_data(wire)
    assert conn.next_event() == expected

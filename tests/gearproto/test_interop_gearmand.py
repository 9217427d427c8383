"""gearproto over plain blocking sockets against the real gearmand."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

import gearproto
from gearproto import CLIENT, WORKER, AdminCommand, Connection, Event, Role
from tests.peers import RunningServer

pytestmark = [pytest.mark.gearmand, pytest.mark.timeout(30)]


class Peer:
    """One gearproto connection on one blocking socket."""

    def __init__(self, role: Role, server: RunningServer) -> None:
        self.conn = Connection(role)
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)

    def send(self, *events: Event) -> None:
        for event in events:
            for part in self.conn.send_vectored(event):
                self.sock.sendall(part)

    def recv(self) -> Event:
        while (event := self.conn.next_event()) is gearproto.NEED_DATA:
            self.conn.receive_data(self.sock.recv(65536))
        return event

    def ask(self, event: Event) -> Event:
        self.send(event)
        return self.recv()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def peers(gearmand: RunningServer) -> Iterator[tuple[Peer, Peer, Peer]]:
    client, worker, admin = Peer(CLIENT, gearmand), Peer(WORKER, gearmand), Peer(CLIENT, gearmand)
    try:
        yield client, worker, admin
    finally:
        for peer in (client, worker, admin):
            peer.close()


def test_submit_grab_complete(peers: tuple[Peer, Peer, Peer]) -> None:
    client, worker, _ = peers
    worker.send(gearproto.SetClientId(client_id=b"w1"), gearproto.CanDo(function=b"reverse"))
    assert worker.ask(gearproto.GrabJobUniq()) == gearproto.NoJob()
    worker.send(gearproto.PreSleep())
    assert worker.conn.worker_state.value == "sleeping"

    option = gearproto.OptionReq(option=b"exceptions")
    res = client.ask(option)
    assert res == gearproto.OptionRes(option=b"exceptions")
    assert isinstance(res, gearproto.OptionRes) and res.request is option
    submit = gearproto.SubmitJob(function=b"reverse", unique=b"u1", data=b"hello\0world")
    created = client.ask(submit)
    assert isinstance(created, gearproto.JobCreated) and created.request is submit
    handle = created.handle
    assert handle.startswith(b"H:")

    assert worker.recv() == gearproto.Noop()
    assert worker.conn.worker_state is gearproto.WorkerState.IDLE
    assign = worker.ask(gearproto.GrabJobAll())
    assert assign == gearproto.JobAssign(
        handle=handle, function=b"reverse", unique=b"u1", data=b"hello\0world"
    )
    assert worker.conn.jobs == {handle}

    status = client.ask(gearproto.GetStatus(handle=handle))
    assert status == gearproto.StatusRes(handle=handle, known=True, running=True)
    status_u = client.ask(gearproto.GetStatusUnique(unique=b"u1"))
    assert status_u == gearproto.StatusResUnique(
        unique=b"u1", known=True, running=True, client_count=1
    )
    assert client.ask(gearproto.EchoReq(data=b"ping\0")) == gearproto.EchoRes(data=b"ping\0")

    updates: list[Event] = [
        gearproto.WorkData(handle=handle, data=b"dl\0"),
        gearproto.WorkWarning(handle=handle, data=b"careful"),
        gearproto.WorkStatus(handle=handle, numerator=1, denominator=2),
        gearproto.WorkComplete(handle=handle, data=b"dlrow\0olleh"),
    ]
    worker.send(*updates)
    assert [client.recv() for _ in updates] == updates
    assert worker.conn.jobs == frozenset()
    assert client.ask(gearproto.GetStatus(handle=handle)) == gearproto.StatusRes(
        handle=handle, known=False, running=False
    )

    # A second job, grabbed with plain GRAB_JOB, fails with an exception.
    created = client.ask(gearproto.SubmitJob(function=b"reverse", data=b"boom"))
    assert isinstance(created, gearproto.JobCreated)
    assign = worker.ask(gearproto.GrabJob())
    assert assign == gearproto.JobAssign(handle=created.handle, function=b"reverse", data=b"boom")
    worker.send(gearproto.WorkException(handle=created.handle, data=b"ValueError"))
    assert client.recv() == gearproto.WorkException(handle=created.handle, data=b"ValueError")

    # Errors gearmand sends, paired with what caused them.
    unused = gearproto.Unused()
    error = client.ask(unused)
    assert error == gearproto.Error(code=b"INVALID_COMMAND", text=b"Command not expected")
    assert isinstance(error, gearproto.Error) and error.request is unused
    error = client.ask(gearproto.OptionReq(option=b"bogus"))
    assert error == gearproto.Error(
        code=b"UNKNOWN_OPTION", text=b"Server does not recognize given option"
    )
    assert client.conn.pending == ()


def admin(peer: Peer, line: bytes) -> Event:
    word, *args = line.split(b" ")
    return peer.ask(AdminCommand(command=word, args=tuple(args)))


def test_every_admin_reply_parses(peers: tuple[Peer, Peer, Peer], gearmand: RunningServer) -> None:
    client, worker, adm = peers
    worker.send(gearproto.SetClientId(client_id=b"w1"), gearproto.CanDo(function=b"reverse"))
    assert worker.ask(gearproto.EchoReq()) == gearproto.EchoRes()  # registered by now
    created = client.ask(
        gearproto.SubmitJob(
            function=b"idle", unique=b"bg1", priority=gearproto.Priority.HIGH, background=True
        )
    )
    assert isinstance(created, gearproto.JobCreated)
    handle = created.handle

    status = admin(adm, b"status")
    assert isinstance(status, gearproto.StatusReply)
    assert {f.function: (f.total, f.running, f.workers) for f in status.functions} == {
        b"reverse": (0, 0, 1),
        b"idle": (1, 0, 0),
    }
    prio = admin(adm, b"prioritystatus")
    assert isinstance(prio, gearproto.PriorityStatusReply)
    assert (
        gearproto.FunctionPriorityStatus(function=b"idle", high=1, normal=0, low=0, workers=0)
        in prio.functions
    )
    workers = admin(adm, b"workers")
    assert isinstance(workers, gearproto.WorkersReply)
    [w1] = [w for w in workers.workers if w.client_id == b"w1"]
    assert w1.functions == (b"reverse",)
    assert w1.address == b"127.0.0.1"
    assert len(workers.workers) == 3  # client, worker and this admin connection
    # gearmand marks a background job "queued" even without a persistent queue plugin.
    jobs = admin(adm, b"show jobs")
    assert jobs == gearproto.ShowJobsReply(
        jobs=(gearproto.JobInfo(handle=handle, retries=0, ignored=False, persisted=True),)
    )
    assert admin(adm, b"show unique jobs") == gearproto.ShowUniqueJobsReply(uniques=(b"bg1",))
    version = admin(adm, b"version")
    assert isinstance(version, gearproto.VersionReply) and version.version[:1].isdigit()
    assert admin(adm, b"getpid") == gearproto.PidReply(pid=gearmand.proc.pid)
    assert admin(adm, b"verbose") == gearproto.VerboseReply(level=b"INFO")
    assert admin(adm, b"maxqueue reverse 10") == gearproto.AdminOk()
    assert admin(adm, b"maxqueue") == gearproto.AdminError(
        code=b"INVALID_ARGUMENTS",
        text=b"An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue",
    )
    assert admin(adm, b"cancel job " + handle) == gearproto.AdminOk()
    assert admin(adm, b"cancel job H:nowhere:1") == gearproto.AdminError(code=b"UNKNOWN_JOB")
    # A cancelled job stays listed, ignored, until a worker would have taken it.
    assert admin(adm, b"show jobs") == gearproto.ShowJobsReply(
        jobs=(gearproto.JobInfo(handle=handle, retries=0, ignored=True, persisted=False),)
    )
    assert admin(adm, b"create function fresh") == gearproto.AdminOk()
    assert admin(adm, b"drop function idle") == gearproto.AdminOk()
    assert admin(adm, b"drop function reverse") == gearproto.AdminError(
        code=b"there", text=b"are still connected workers or executing clients"
    )
    assert admin(adm, b"drop function nothing") == gearproto.AdminError(
        code=b"function", text=b"not found"
    )
    assert admin(adm, b"bogus") == gearproto.AdminError(
        code=b"UNKNOWN_COMMAND", text=b"Unknown+server+commandbogus"
    )
    # Text and binary share the connection.
    assert adm.ask(gearproto.EchoReq(data=b"x")) == gearproto.EchoRes(data=b"x")
    # Admin lines end in CRLF, so gearmand keeps the created function's whole name.
    status = admin(adm, b"STATUS")
    assert isinstance(status, gearproto.StatusReply)
    assert sorted(status.functions, key=lambda f: f.function) == [
        gearproto.FunctionStatus(function=b"fresh", total=0, running=0, workers=0),
        gearproto.FunctionStatus(function=b"reverse", total=0, running=0, workers=1),
    ]
    assert adm.conn.pending == ()


def test_reduce_job_is_assigned_with_its_reducer(peers: tuple[Peer, Peer, Peer]) -> None:
    client, worker, _ = peers
    worker.send(gearproto.CanDo(function=b"mapper"))
    assert worker.ask(gearproto.EchoReq()) == gearproto.EchoRes()
    submit = gearproto.SubmitReduceJob(
        function=b"mapper", unique=b"r1", reducer=b"reducer", data=b"a b c", background=True
    )
    created = client.ask(submit)
    assert isinstance(created, gearproto.JobCreated) and created.request is submit
    assert worker.ask(gearproto.GrabJobAll()) == gearproto.JobAssign(
        handle=created.handle, function=b"mapper", unique=b"r1", reducer=b"reducer", data=b"a b c"
    )
    worker.send(gearproto.WorkComplete(handle=created.handle))
    assert worker.ask(gearproto.GrabJobAll()) == gearproto.NoJob()


@pytest.mark.parametrize(
    "wire",
    [
        b"\0RES\0\0\0\x10\0\0\0\x01x",  # RES magic to the server
        b"\0REQ\0\0\0\x08\0\0\0\x01H",  # JOB_CREATED, a server-to-client packet
        b"\0REQ\0\0\0\x06\0\0\0\0",  # NOOP
        b"\0REQ\0\0\0\x18\0\0\0\0",  # ALL_YOURS
        b"\0REQ\0\0\0\x05\0\0\0\0",  # UNUSED
        b"\0REX\0\0\0\x10\0\0\0\0",  # bad magic
        b"\0REQ\0\0\0\x2b\0\0\0\0",  # type 43
        b"\0REQ\0\0\0\0\0\0\0\0",  # type 0
        b"\0REQ\0\0\0\x23\0\0\0\x09f\0\0\0\0\0\0\0\0",  # SUBMIT_JOB_SCHED
        b"s" * 9000,  # an admin line longer than gearmand's buffer
        b"\0REQ\0\0\0\x17\0\0\0\x16f\0" + b"9" * 20,  # CAN_DO_TIMEOUT overflowing a long
        b"\0REQ\0\0\0\x17\0\0\0\x17f\0" + b"1" * 21,  # CAN_DO_TIMEOUT over 20 digits
        b"\0REQ\0\0\0\x17\0\0\0\x15f\x009223372036854775807",  # CAN_DO_TIMEOUT LONG_MAX
        b"\0REQ\0\0\0\x24\0\0\0\x1af\0u\0" + b"9" * 20 + b"\0d",  # epoch overflow
        b"\0REQ\0\0\0\x01\0\0\x23\x28" + b"f" * 9000,  # a CAN_DO longer than the buffer
    ],
)
def test_error_hint_is_what_gearmand_sends(gearmand: RunningServer, wire: bytes) -> None:
    """The hint our server connection gives is gearmand's real answer (None: it closes)."""
    server = Connection(gearproto.SERVER)
    server.receive_data(wire)
    hint: gearproto.Error | None
    try:
        event = server.next_event()
        reserved = (gearproto.Unused, gearproto.AllYours, gearproto.SubmitJobSched)
        if not isinstance(event, reserved):
            pytest.fail(f"{wire!r} parsed as {event!r}")
        # A reserved packet parses; gearmand answers it with INVALID_COMMAND.
        hint = gearproto.Error(code=b"INVALID_COMMAND", text=b"Command not expected")
    except gearproto.RemoteProtocolError as exc:
        hint = exc.error_hint
    peer = Peer(CLIENT, gearmand)
    try:
        peer.sock.sendall(wire)
        reply = peer.recv()
    finally:
        peer.close()
    assert reply == (gearproto.ConnectionClosed() if hint is None else hint)

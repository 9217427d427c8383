"""A worker pipelines its GRABs against real job servers: gearmand and ours.

Three GRAB_JOB_UNIQ go out in one write while two jobs are queued; each GRAB gets
its own answer, in order (two JOB_ASSIGN_UNIQ, then NO_JOB), and the worker holds
both jobs at once.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

import gearproto
from gearproto import CLIENT, WORKER, Connection, Event, Role, WorkerState
from tests.peers import RunningServer

pytestmark = pytest.mark.timeout(30)


class Peer:
    """One gearproto connection on one blocking socket."""

    def __init__(self, role: Role, server: RunningServer) -> None:
        self.conn = Connection(role)
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)

    def send(self, *events: Event) -> None:
        self.sock.sendall(b"".join(self.conn.send(e) for e in events))

    def recv(self) -> Event:
        while (event := self.conn.next_event()) is gearproto.NEED_DATA:
            self.conn.receive_data(self.sock.recv(65536))
        return event

    def state(self) -> WorkerState:
        return self.conn.worker_state

    def ask(self, event: Event) -> Event:
        self.send(event)
        return self.recv()


@pytest.fixture
def peers(server: RunningServer) -> Iterator[tuple[Peer, Peer]]:
    client, worker = Peer(CLIENT, server), Peer(WORKER, server)
    try:
        yield client, worker
    finally:
        client.sock.close()
        worker.sock.close()


def test_three_grabs_in_one_write(peers: tuple[Peer, Peer]) -> None:
    client, worker = peers
    worker.send(gearproto.CanDo(function=b"pipe"))
    assert worker.ask(gearproto.EchoReq()) == gearproto.EchoRes()  # registered by now
    # Nothing queued: each of the pipelined GRABs gets its NO_JOB, an ECHO in between
    # answered in its turn.
    echo = gearproto.EchoReq(data=b"between")
    worker.send(gearproto.GrabJob(), echo, gearproto.GrabJobAll())
    assert worker.recv() == gearproto.NoJob()
    res = worker.recv()
    assert isinstance(res, gearproto.EchoRes) and res.request is echo
    assert worker.state() is WorkerState.GRABBING
    assert worker.recv() == gearproto.NoJob()
    assert worker.state() is WorkerState.IDLE

    handles = []
    for n in (1, 2):
        created = client.ask(
            gearproto.SubmitJob(
                function=b"pipe", unique=b"u%d" % n, data=b"job %d" % n, background=True
            )
        )
        assert isinstance(created, gearproto.JobCreated)
        handles.append(created.handle)

    wire = b"".join(worker.conn.send(gearproto.GrabJobUniq()) for _ in range(3))
    assert wire == b"\0REQ\0\0\0\x1e\0\0\0\0" * 3
    assert [type(p) for p in worker.conn.pending] == [gearproto.GrabJobUniq] * 3
    worker.sock.sendall(wire)  # one write

    first = worker.recv()
    assert first == gearproto.JobAssign(
        handle=handles[0], function=b"pipe", unique=b"u1", data=b"job 1"
    )
    assert worker.state() is WorkerState.GRABBING
    second = worker.recv()
    assert second == gearproto.JobAssign(
        handle=handles[1], function=b"pipe", unique=b"u2", data=b"job 2"
    )
    assert worker.state() is WorkerState.GRABBING
    assert worker.recv() == gearproto.NoJob()
    assert worker.state() is WorkerState.IDLE
    assert worker.conn.jobs == set(handles)
    assert worker.conn.pending == ()

    # Both held jobs finish; the server forgets them.
    worker.send(*(gearproto.WorkComplete(handle=h, data=b"done") for h in reversed(handles)))
    assert worker.conn.jobs == frozenset()
    assert worker.ask(gearproto.EchoReq()) == gearproto.EchoRes()  # completions processed
    for h in handles:
        assert client.ask(gearproto.GetStatus(handle=h)) == gearproto.StatusRes(
            handle=h, known=False, running=False
        )
    # With nothing left, the worker may go to sleep.
    worker.send(gearproto.PreSleep())
    assert worker.state() is WorkerState.SLEEPING

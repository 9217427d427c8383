"""Worker state (grab, assign, sleep, held jobs) and FIFO pairing of answers with requests."""

from __future__ import annotations

import struct

import pytest

import gearproto
from gearproto import (
    CLIENT,
    SERVER,
    WORKER,
    Connection,
    Error,
    JobAssign,
    LocalProtocolError,
    RemoteProtocolError,
    WorkerState,
)
from gearproto.testing import ConnectionPair, drain

IDLE, GRABBING, SLEEPING = WorkerState.IDLE, WorkerState.GRABBING, WorkerState.SLEEPING


def server_says(conn: Connection, *events: gearproto.Event) -> list[gearproto.Event]:
    server = Connection(SERVER)
    conn.receive_data(b"".join(server.send(e) for e in events))
    return drain(conn)


def test_grab_no_job_pre_sleep_noop() -> None:
    pair = ConnectionPair(WORKER)
    w = pair.peer
    assert w.worker_state is IDLE
    pair.send(WORKER, gearproto.CanDo(function=b"f"))
    pair.send(WORKER, gearproto.GrabJob())
    assert w.worker_state is GRABBING
    pair.send(SERVER, gearproto.Noop())  # tolerated while grabbing
    assert w.worker_state is GRABBING
    pair.send(SERVER, gearproto.NoJob())
    assert w.worker_state is IDLE
    pair.send(WORKER, gearproto.PreSleep())
    assert w.worker_state is SLEEPING
    pair.send(SERVER, gearproto.Noop())
    assert w.worker_state is IDLE
    pair.send(SERVER, gearproto.Noop())  # a stray NOOP changes nothing
    assert w.worker_state is IDLE
    pair.send(WORKER, gearproto.PreSleep())
    pair.send(WORKER, gearproto.GrabJobUniq())  # grabbing straight from sleep is fine
    assert w.worker_state is GRABBING
    assert w.pending == (gearproto.GrabJobUniq(),)


@pytest.mark.parametrize(
    ("setup", "event", "message"),
    [
        ([gearproto.GrabJob()], gearproto.PreSleep(), "while grabbing"),
        ([gearproto.GrabJob(), gearproto.GrabJobAll()], gearproto.PreSleep(), "while grabbing"),
        ([gearproto.PreSleep()], gearproto.PreSleep(), "while sleeping"),
        ([], gearproto.WorkComplete(handle=b"H:1"), "not held"),
        ([], gearproto.WorkData(handle=b"H:1"), "not held"),
        ([], gearproto.WorkWarning(handle=b"H:1"), "not held"),
        ([], gearproto.WorkStatus(handle=b"H:1", numerator=1, denominator=2), "not held"),
        ([], gearproto.WorkFail(handle=b"H:1"), "not held"),
        ([], gearproto.WorkException(handle=b"H:1"), "not held"),
    ],
)
def test_illegal_worker_sends_leave_the_connection_usable(
    setup: list[gearproto.Event], event: gearproto.Event, message: str
) -> None:
    w = Connection(WORKER)
    for e in setup:
        w.send(e)
    before = (w.worker_state, w.pending, w.jobs)
    with pytest.raises(LocalProtocolError, match=message):
        w.send(event)
    assert (w.worker_state, w.pending, w.jobs) == before
    assert w.state is gearproto.ConnectionState.OPEN
    assert w.send(gearproto.EchoReq()) == b"\0REQ\0\0\0\x10\0\0\0\0"


def test_held_jobs() -> None:
    pair = ConnectionPair(WORKER)
    w = pair.peer
    for n, grab in enumerate(
        [gearproto.GrabJob(), gearproto.GrabJobUniq(), gearproto.GrabJobAll()]
    ):
        pair.send(WORKER, grab)
        pair.send(SERVER, JobAssign(handle=b"H:%d" % n, function=b"f", unique=b"u" if n else None))
        assert w.worker_state is IDLE
    assert w.jobs == {b"H:0", b"H:1", b"H:2"}
    pair.send(WORKER, gearproto.WorkData(handle=b"H:1", data=b"x"))
    pair.send(WORKER, gearproto.WorkStatus(handle=b"H:1", numerator=1, denominator=2))
    pair.send(WORKER, gearproto.WorkWarning(handle=b"H:1", data=b"x"))
    assert w.jobs == {b"H:0", b"H:1", b"H:2"}
    pair.send(WORKER, gearproto.WorkComplete(handle=b"H:1", data=b"done"))
    pair.send(WORKER, gearproto.WorkFail(handle=b"H:0"))
    pair.send(WORKER, gearproto.WorkException(handle=b"H:2", data=b"boom"))
    assert w.jobs == frozenset()
    with pytest.raises(LocalProtocolError, match="not held"):
        w.send(gearproto.WorkComplete(handle=b"H:1"))
    assert w.send(gearproto.GrabJob())


def test_error_answers_a_grab() -> None:
    w = Connection(WORKER)
    grab = gearproto.GrabJob()
    w.send(grab)
    [error] = server_says(w, Error(code=b"INVALID_COMMAND", text=b"x"))
    assert isinstance(error, Error)
    assert error.request is grab
    assert w.worker_state is IDLE
    assert w.pending == ()


def res(ptype: int, *fields: bytes) -> bytes:
    """A server packet written out by hand: RES magic, type, size, NUL-joined fields."""
    payload = b"\0".join(fields)
    return b"\0RES" + struct.pack(">II", ptype, len(payload)) + payload


NOOP, NO_JOB, JOB_ASSIGN, ECHO_RES, ERROR, JOB_ASSIGN_UNIQ = 6, 10, 11, 17, 19, 31


def test_pipelined_grabs_go_out_in_one_write() -> None:
    w = Connection(WORKER)
    wire = b"".join(
        w.send(g) for g in [gearproto.GrabJobUniq(), gearproto.GrabJob(), gearproto.GrabJobAll()]
    )
    assert wire == (
        b"\0REQ\0\0\0\x1e\0\0\0\0" + b"\0REQ\0\0\0\x09\0\0\0\0" + b"\0REQ\0\0\0\x27\0\0\0\0"
    )
    assert w.worker_state is GRABBING
    assert w.pending == (gearproto.GrabJobUniq(), gearproto.GrabJob(), gearproto.GrabJobAll())


def test_pipelined_grabs_are_answered_in_order() -> None:
    w = Connection(WORKER)
    grabs = [gearproto.GrabJobUniq(), gearproto.GrabJob(), gearproto.GrabJobUniq()]
    for g in grabs:
        w.send(g)
    w.receive_data(res(JOB_ASSIGN_UNIQ, b"H:1", b"f", b"u1", b"one"))
    assert w.next_event() == JobAssign(handle=b"H:1", function=b"f", unique=b"u1", data=b"one")
    assert (w.worker_state, w.jobs) == (GRABBING, frozenset({b"H:1"}))
    assert [p is g for p, g in zip(w.pending, grabs[1:], strict=True)] == [True, True]
    w.receive_data(res(JOB_ASSIGN, b"H:2", b"f", b"two"))
    assert w.next_event() == JobAssign(handle=b"H:2", function=b"f", data=b"two")
    assert (w.worker_state, w.jobs) == (GRABBING, frozenset({b"H:1", b"H:2"}))
    [left] = w.pending
    assert left is grabs[2]
    w.receive_data(res(NO_JOB))
    assert w.next_event() == gearproto.NoJob()
    assert (w.worker_state, w.jobs, w.pending) == (IDLE, frozenset({b"H:1", b"H:2"}), ())
    # Both held jobs can be worked on and finished, in any order.
    assert w.send(gearproto.WorkComplete(handle=b"H:2", data=b"owt"))
    assert w.send(gearproto.WorkComplete(handle=b"H:1", data=b"eno"))
    assert w.jobs == frozenset()
    assert w.send(gearproto.PreSleep())
    assert w.worker_state is SLEEPING


def test_pipelined_grabs_all_answers_in_one_read() -> None:
    w = Connection(WORKER)
    for _ in range(3):
        w.send(gearproto.GrabJobUniq())
    w.receive_data(
        res(JOB_ASSIGN_UNIQ, b"H:1", b"f", b"u1", b"one")
        + res(JOB_ASSIGN_UNIQ, b"H:2", b"f", b"u2", b"two")
        + res(NO_JOB)
    )
    events = drain(w)
    assert [type(e) for e in events] == [JobAssign, JobAssign, gearproto.NoJob]
    assert (w.worker_state, w.jobs, w.pending) == (IDLE, frozenset({b"H:1", b"H:2"}), ())


def test_echo_between_pipelined_grabs() -> None:
    w = Connection(WORKER)
    grab1, echo, grab2 = gearproto.GrabJob(), gearproto.EchoReq(data=b"ping"), gearproto.GrabJob()
    for e in (grab1, echo, grab2):
        w.send(e)
    w.receive_data(res(NO_JOB))
    assert w.next_event() == gearproto.NoJob()
    assert w.worker_state is GRABBING
    assert w.pending[0] is echo
    # An answer for the second GRAB can't jump the ECHO ahead of it.
    w.receive_data(res(ECHO_RES, b"ping"))
    reply = w.next_event()
    assert isinstance(reply, gearproto.EchoRes) and reply.request is echo
    assert w.worker_state is GRABBING
    [left] = w.pending
    assert left is grab2
    w.receive_data(res(JOB_ASSIGN, b"H:1", b"f", b""))
    assert w.next_event() == JobAssign(handle=b"H:1", function=b"f")
    assert (w.worker_state, w.jobs, w.pending) == (IDLE, frozenset({b"H:1"}), ())


def test_no_job_out_of_turn_behind_an_echo() -> None:
    w = Connection(WORKER)
    w.send(gearproto.EchoReq())
    w.send(gearproto.GrabJob())
    w.receive_data(res(NO_JOB))
    with pytest.raises(RemoteProtocolError, match=r"unexpected NoJob while waiting .* EchoReq"):
        w.next_event()


def test_error_answers_a_grab_in_the_middle() -> None:
    w = Connection(WORKER)
    grabs = [gearproto.GrabJob(), gearproto.GrabJob(), gearproto.GrabJob()]
    for g in grabs:
        w.send(g)
    w.receive_data(
        res(JOB_ASSIGN, b"H:1", b"f", b"") + res(ERROR, b"NO_WORKERS", b"boom") + res(NO_JOB)
    )
    assign = w.next_event()
    assert assign == JobAssign(handle=b"H:1", function=b"f")
    error = w.next_event()
    assert isinstance(error, Error) and error.request is grabs[1]
    assert error.code == b"NO_WORKERS"
    assert w.worker_state is GRABBING
    [left] = w.pending
    assert left is grabs[2]
    assert w.next_event() == gearproto.NoJob()
    assert (w.worker_state, w.jobs, w.pending) == (IDLE, frozenset({b"H:1"}), ())


def test_error_answers_the_last_pipelined_grab() -> None:
    w = Connection(WORKER)
    w.send(gearproto.GrabJob())
    w.send(gearproto.GrabJob())
    w.receive_data(res(NO_JOB) + res(ERROR, b"ERR", b"x"))
    assert w.next_event() == gearproto.NoJob()
    assert w.worker_state is GRABBING
    assert isinstance(w.next_event(), Error)
    assert (w.worker_state, w.pending) == (IDLE, ())


def test_pre_sleep_waits_for_the_last_pipelined_answer() -> None:
    w = Connection(WORKER)
    w.send(gearproto.GrabJob())
    w.send(gearproto.GrabJobUniq())
    with pytest.raises(LocalProtocolError, match="while grabbing"):
        w.send(gearproto.PreSleep())
    w.receive_data(res(NO_JOB))
    assert w.next_event() == gearproto.NoJob()
    with pytest.raises(LocalProtocolError, match="while grabbing"):
        w.send(gearproto.PreSleep())
    w.receive_data(res(NOOP))  # a NOOP in between changes nothing while grabbing
    assert w.next_event() == gearproto.Noop()
    assert w.worker_state is GRABBING
    w.receive_data(res(NO_JOB))
    assert w.next_event() == gearproto.NoJob()
    assert w.worker_state is IDLE
    assert w.send(gearproto.PreSleep()) == b"\0REQ\0\0\0\x04\0\0\0\0"
    assert w.worker_state is SLEEPING
    # The next GRAB wakes it up, and more may follow at once.
    w.send(gearproto.GrabJob())
    w.send(gearproto.GrabJob())
    assert (w.worker_state, len(w.pending)) == (GRABBING, 2)
    w.receive_data(res(NO_JOB) + res(NO_JOB))
    drain(w)
    assert w.worker_state is IDLE


def test_job_not_found_between_pipelined_answers() -> None:
    w = Connection(WORKER)
    w.send(gearproto.GrabJob())
    w.send(gearproto.GrabJob())
    w.receive_data(res(NO_JOB) + res(ERROR, b"JOB_NOT_FOUND", b"") + res(NO_JOB))
    assert w.next_event() == gearproto.NoJob()
    nf = w.next_event()
    assert isinstance(nf, Error) and nf.request is None
    assert (w.worker_state, len(w.pending)) == (GRABBING, 1)
    assert w.next_event() == gearproto.NoJob()
    assert w.worker_state is IDLE


@pytest.mark.parametrize(
    ("role", "sent", "answer"),
    [
        (WORKER, [], JobAssign(handle=b"H", function=b"f")),
        (WORKER, [], gearproto.NoJob()),
        (WORKER, [gearproto.EchoReq()], gearproto.NoJob()),
        (CLIENT, [], gearproto.JobCreated(handle=b"H")),
        (CLIENT, [gearproto.GetStatus(handle=b"H")], gearproto.JobCreated(handle=b"H")),
        (
            CLIENT,
            [gearproto.SubmitJob(function=b"f")],
            gearproto.StatusRes(handle=b"H", known=False, running=False),
        ),
        (
            CLIENT,
            [gearproto.GetStatus(handle=b"H")],
            gearproto.StatusResUnique(unique=b"u", known=False, running=False),
        ),
        (CLIENT, [gearproto.SubmitJob(function=b"f")], gearproto.EchoRes()),
        (CLIENT, [gearproto.EchoReq()], gearproto.OptionRes(option=b"exceptions")),
        (CLIENT, [gearproto.AdminCommand(command=b"status")], gearproto.EchoRes()),
        (CLIENT, [], gearproto.NoJob()),
    ],
)
def test_unexpected_answers(
    role: gearproto.Role, sent: list[gearproto.Event], answer: gearproto.Event
) -> None:
    conn = Connection(role)
    for e in sent:
        conn.send(e)
    with pytest.raises(RemoteProtocolError, match="unexpected") as info:
        server_says(conn, answer)
    assert info.value.error_hint is None
    assert conn.state is gearproto.ConnectionState.ERROR


def test_job_created_pairs_with_its_submit() -> None:
    pair = ConnectionPair(CLIENT)
    submits = [
        gearproto.SubmitJob(function=b"f", data=b"1"),
        gearproto.SubmitJobEpoch(function=b"f", epoch=1),
        gearproto.SubmitReduceJob(function=b"f", reducer=b"r"),
        gearproto.SubmitJob(function=b"f", data=b"1"),  # equal to the first, not the same
    ]
    pair.send(CLIENT, submits)
    created = [gearproto.JobCreated(handle=b"H:%d" % i) for i in range(4)]
    client = pair.peer
    client.receive_data(b"".join(pair.server.send(e) for e in created))
    events = drain(client)
    assert events == created
    for event, submit in zip(events, submits, strict=False):
        assert isinstance(event, gearproto.JobCreated)
        assert event.request is submit
    assert client.pending == ()


def test_every_answer_pairs_in_order() -> None:
    client = Connection(CLIENT)
    requests: list[gearproto.Event] = [
        gearproto.SubmitJob(function=b"f"),
        gearproto.GetStatus(handle=b"H"),
        gearproto.GetStatusUnique(unique=b"u"),
        gearproto.EchoReq(data=b"e"),
        gearproto.OptionReq(option=b"exceptions"),
        gearproto.SubmitJobSched(function=b"f"),
        gearproto.Unused(),
    ]
    for r in requests:
        client.send(r)
    client.send(gearproto.SetClientId(client_id=b"c"))  # no answer: not pending
    assert client.pending == tuple(requests)
    events = server_says(
        client,
        gearproto.JobCreated(handle=b"H"),
        gearproto.WorkData(handle=b"H:0", data=b"unsolicited"),
        gearproto.StatusRes(handle=b"H", known=True, running=True),
        gearproto.StatusResUnique(unique=b"u", known=False, running=False),
        gearproto.EchoRes(data=b"e"),
        Error(code=b"UNKNOWN_OPTION", text=b"Server does not recognize given option"),
        Error(code=b"INVALID_COMMAND", text=b"Command not expected"),
        Error(code=b"INVALID_COMMAND", text=b"Command not expected"),
    )
    paired = [getattr(e, "request", None) for e in events]
    assert paired == [requests[0], None, *requests[1:]]
    assert [p is r for p, r in zip(paired[2:], requests[1:], strict=False)] == [True] * 6
    assert client.pending == ()


def test_error_pairing_rules() -> None:
    client = Connection(CLIENT)
    # Nothing pending: an Error answers nothing.
    [lone] = server_says(client, Error(code=b"QUEUE_ERROR"))
    assert isinstance(lone, Error) and lone.request is None
    submit = gearproto.SubmitJob(function=b"f")
    client.send(submit)
    # JOB_NOT_FOUND answers a Work* packet, never a queued request.
    [nf] = server_says(client, Error(code=b"JOB_NOT_FOUND", text=b"Job does not exist"))
    assert isinstance(nf, Error) and nf.request is None
    assert client.pending == (submit,)
    [qe] = server_says(client, Error(code=b"QUEUE_ERROR", text=b"Job queue is full"))
    assert isinstance(qe, Error) and qe.request is submit
    assert not client.pending


def test_job_not_found_leaves_a_grab_pending() -> None:
    w = Connection(WORKER)
    w.send(gearproto.GrabJob())
    [nf] = server_says(w, Error(code=b"JOB_NOT_FOUND"))
    assert isinstance(nf, Error) and nf.request is None
    assert w.worker_state is GRABBING


def test_client_and_worker_send_only_their_events() -> None:
    client, worker, server = Connection(CLIENT), Connection(WORKER), Connection(SERVER)
    for event in [gearproto.GrabJob(), gearproto.CanDo(function=b"f"), gearproto.NoJob()]:
        with pytest.raises(LocalProtocolError, match="client connection can't send"):
            client.send(event)
    for event in [gearproto.SubmitJob(function=b"f"), gearproto.GetStatus(handle=b"H")]:
        with pytest.raises(LocalProtocolError, match="worker connection can't send"):
            worker.send(event)
    for event in [gearproto.SubmitJob(function=b"f"), gearproto.GrabJob(), gearproto.EchoReq()]:
        with pytest.raises(LocalProtocolError, match="server connection can't send"):
            server.send(event)
    with pytest.raises(LocalProtocolError):
        client.send(gearproto.ConnectionClosed())
    assert (client.role, worker.role, server.role) == (CLIENT, WORKER, SERVER)


def test_send_failed_poisons() -> None:
    client = Connection(CLIENT)
    client.send_failed()
    assert client.state is gearproto.ConnectionState.ERROR
    with pytest.raises(LocalProtocolError):
        client.send(gearproto.EchoReq())
    with pytest.raises(RemoteProtocolError):
        client.next_event()


def test_server_accepts_client_worker_and_admin_traffic_on_one_socket() -> None:
    server = Connection(SERVER)
    client, worker = Connection(CLIENT), Connection(WORKER)
    wire = (
        worker.send(gearproto.CanDo(function=b"f"))
        + client.send(gearproto.SubmitJob(function=b"f"))
        + client.send(gearproto.AdminCommand(command=b"status"))
        + worker.send(gearproto.GrabJobAll())
        + client.send(gearproto.GetStatus(handle=b"H:9"))
    )
    for byte in wire:
        server.receive_data(bytes([byte]))
    server.receive_data(b"")
    assert drain(server) == [
        gearproto.CanDo(function=b"f"),
        gearproto.SubmitJob(function=b"f"),
        gearproto.AdminCommand(command=b"status"),
        gearproto.GrabJobAll(),
        gearproto.GetStatus(handle=b"H:9"),
        gearproto.ConnectionClosed(),
    ]
    assert server.state is gearproto.ConnectionState.CLOSED


def test_need_data_repr() -> None:
    assert repr(gearproto.NEED_DATA) == "NEED_DATA"


def worker_in(state: WorkerState, holding: bool, grabs: int = 1) -> Connection:
    """A worker in ``state`` (``GRABBING`` with ``grabs`` GRABs unanswered)."""
    w = Connection(WORKER)
    if holding:
        w.send(gearproto.GrabJob())
        server_says(w, JobAssign(handle=b"H", function=b"f"))
    if state is GRABBING:
        for _ in range(grabs):
            w.send(gearproto.GrabJob())
    elif state is SLEEPING:
        w.send(gearproto.PreSleep())
    assert (w.worker_state, w.jobs) == (state, {b"H"} if holding else frozenset())
    return w


#: Worker states, GRABBING both with one GRAB unanswered and with two pipelined.
STATES = [(IDLE, 0), (GRABBING, 1), (GRABBING, 2), (SLEEPING, 0)]


WORKER_SENDS: list[gearproto.Event] = [
    gearproto.CanDo(function=b"f"),
    gearproto.CanDoTimeout(function=b"f", timeout=5),
    gearproto.CantDo(function=b"f"),
    gearproto.ResetAbilities(),
    gearproto.SetClientId(client_id=b"w"),
    gearproto.EchoReq(),
    gearproto.OptionReq(option=b"exceptions"),
    gearproto.AllYours(),
    gearproto.Unused(),
    gearproto.AdminCommand(command=b"status"),
    gearproto.GrabJob(),
    gearproto.GrabJobUniq(),
    gearproto.GrabJobAll(),
    gearproto.PreSleep(),
    gearproto.WorkData(handle=b"H"),
    gearproto.WorkWarning(handle=b"H"),
    gearproto.WorkStatus(handle=b"H", numerator=1, denominator=2),
    gearproto.WorkComplete(handle=b"H"),
    gearproto.WorkFail(handle=b"H"),
    gearproto.WorkException(handle=b"H"),
]


@pytest.mark.parametrize(("state", "grabs"), STATES, ids=lambda s: getattr(s, "name", s))
@pytest.mark.parametrize("holding", [False, True])
@pytest.mark.parametrize("event", WORKER_SENDS, ids=lambda e: type(e).__name__)
def test_worker_send_in_every_state(
    state: WorkerState, grabs: int, holding: bool, event: gearproto.Event
) -> None:
    w = worker_in(state, holding, grabs)
    work = type(event).__name__.startswith("Work")
    finish = isinstance(
        event, (gearproto.WorkComplete, gearproto.WorkFail, gearproto.WorkException)
    )
    # A GRAB is legal in every state (pipelined while grabbing); PRE_SLEEP only when idle.
    legal = not (
        (isinstance(event, gearproto.PreSleep) and state is not IDLE) or (work and not holding)
    )
    before = (w.worker_state, w.pending, w.jobs)
    if not legal:
        with pytest.raises(LocalProtocolError):
            w.send(event)
        assert (w.worker_state, w.pending, w.jobs) == before
        return
    w.send(event)
    if isinstance(event, (gearproto.GrabJob, gearproto.GrabJobUniq, gearproto.GrabJobAll)):
        assert w.worker_state is GRABBING
        assert w.pending == (*before[1], event)
    elif isinstance(event, gearproto.PreSleep):
        assert w.worker_state is SLEEPING
    else:
        assert w.worker_state is state
    assert w.jobs == (before[2] - {b"H"} if finish else before[2])


WORKER_RECEIVES: list[gearproto.Event] = [
    gearproto.Noop(),
    gearproto.NoJob(),
    JobAssign(handle=b"H2", function=b"f"),
    Error(code=b"INVALID_COMMAND"),
    Error(code=b"JOB_NOT_FOUND"),
    gearproto.EchoRes(),
    gearproto.WorkComplete(handle=b"H"),
]


@pytest.mark.parametrize(("state", "grabs"), STATES, ids=lambda s: getattr(s, "name", s))
@pytest.mark.parametrize("event", WORKER_RECEIVES, ids=lambda e: repr(e)[:24])
def test_worker_receive_in_every_state(
    state: WorkerState, grabs: int, event: gearproto.Event
) -> None:
    w = worker_in(state, holding=True, grabs=grabs)
    answers_grab = isinstance(event, (gearproto.NoJob, JobAssign)) or (
        isinstance(event, Error) and event.code != b"JOB_NOT_FOUND"
    )
    if (
        isinstance(event, (gearproto.NoJob, JobAssign, gearproto.EchoRes))
        and state is not GRABBING
    ):
        with pytest.raises(RemoteProtocolError, match="unexpected"):
            server_says(w, event)
        assert w.state is gearproto.ConnectionState.ERROR
        return
    if isinstance(event, gearproto.EchoRes):
        with pytest.raises(RemoteProtocolError, match="unexpected"):
            server_says(w, event)
        return
    assert server_says(w, event) == [event]
    if state is GRABBING and answers_grab:
        # The oldest GRAB is answered; the worker grabs on while another is unanswered.
        assert w.worker_state is (GRABBING if grabs > 1 else IDLE)
        assert len(w.pending) == grabs - 1
    elif state is SLEEPING and isinstance(event, gearproto.Noop):
        assert w.worker_state is IDLE
    else:
        assert w.worker_state is state
    assert w.jobs == ({b"H", b"H2"} if isinstance(event, JobAssign) else {b"H"})

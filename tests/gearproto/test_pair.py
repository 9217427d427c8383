"""Every event through a ConnectionPair, and a property: any legal stream survives any split."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gearproto
from gearproto import CLIENT, SERVER, WORKER, Event, Priority
from gearproto.testing import GOLDEN, ConnectionPair, GoldenPacket, split_wire

WORK = (
    gearproto.WorkData,
    gearproto.WorkWarning,
    gearproto.WorkStatus,
    gearproto.WorkComplete,
    gearproto.WorkFail,
    gearproto.WorkException,
)


def random_chunks(seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(1, 9) for _ in range(40)]


@pytest.mark.parametrize("golden", GOLDEN, ids=lambda g: g.name)
@pytest.mark.parametrize("chunk", ["whole", "random", "byte"])
def test_every_event_through_a_pair(golden: GoldenPacket, chunk: str) -> None:
    pieces = {"whole": None, "random": random_chunks(len(golden.wire)), "byte": 1}[chunk]
    pair = ConnectionPair(golden.peer)
    if golden.request is not None:
        pair.send(golden.peer, golden.request, chunk=pieces)
    if golden.direction == "REQ":
        if isinstance(golden.event, WORK):
            pair.send(WORKER, gearproto.GrabJob())
            pair.send(
                SERVER, gearproto.JobAssign(handle=golden.event.handle, function=b"f"), chunk=1
            )
        assert pair.send(golden.peer, golden.event, chunk=pieces) == golden.wire
    else:
        assert pair.send(SERVER, golden.event, chunk=pieces) == golden.wire
        assert pair.peer.pending == ()
    assert pair.close(SERVER) == [gearproto.ConnectionClosed()]
    assert pair.close(golden.peer) == [gearproto.ConnectionClosed()]
    assert pair.peer.state is gearproto.ConnectionState.CLOSED


def test_pair_reports_a_mismatch() -> None:
    pair = ConnectionPair(CLIENT)
    with pytest.raises(AssertionError, match="received"):
        pair.send(CLIENT, gearproto.EchoReq(data=b"a"), expect=[gearproto.EchoReq(data=b"b")])


def test_pair_expect_and_roles() -> None:
    pair = ConnectionPair(WORKER)
    assert pair.conn(WORKER) is pair.peer
    assert pair.conn(SERVER) is pair.server
    with pytest.raises(ValueError, match="no client"):
        pair.conn(CLIENT)
    with pytest.raises(ValueError, match="CLIENT or a WORKER"):
        ConnectionPair(SERVER)
    # A raw ECHO with its answer still pending: the server sees one event.
    pair.send(WORKER, [gearproto.EchoReq(), gearproto.EchoReq(data=b"1")], chunk=5)
    pair.send(SERVER, [], expect=[])
    assert len(pair.peer.pending) == 2


def test_pair_limits_reach_both_connections() -> None:
    pair = ConnectionPair(CLIENT, max_packet_size=10)
    with pytest.raises(gearproto.RemoteProtocolError):
        pair.send(CLIENT, gearproto.EchoReq(data=b"x" * 11))


@pytest.mark.parametrize(
    ("chunk", "pieces"),
    [
        (None, [b"abcdef"]),
        (4, [b"abcd", b"ef"]),
        (1, [b"a", b"b", b"c", b"d", b"e", b"f"]),
        ([2, 0, 1], [b"ab", b"c", b"def"]),
        ([10], [b"abcdef"]),
        ([6, 1], [b"abcdef"]),
    ],
)
def test_split_wire(chunk: int | list[int] | None, pieces: list[bytes]) -> None:
    assert list(split_wire(b"abcdef", chunk)) == pieces


def test_split_wire_refuses_empty_chunks() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(split_wire(b"abc", 0))


# --------------------------------------------------------------------------- property

names = st.binary(max_size=12).filter(lambda b: b"\0" not in b)
nonempty_names = names.filter(bool)
datas = st.binary(max_size=40)
ints = st.integers(0, 2**32 - 1)
text_names = names.filter(lambda b: b"\n" not in b and b"\r" not in b)

client_requests = st.one_of(
    st.builds(
        gearproto.SubmitJob,
        function=nonempty_names,
        unique=names,
        data=datas,
        priority=st.sampled_from(Priority),
        background=st.booleans(),
    ),
    st.builds(
        gearproto.SubmitJobEpoch,
        function=nonempty_names,
        unique=names,
        epoch=st.integers(0, 2**40),
        data=datas,
    ),
    st.builds(
        gearproto.SubmitReduceJob,
        function=nonempty_names,
        unique=names,
        reducer=names,
        data=datas,
        background=st.booleans(),
    ),
    st.builds(gearproto.GetStatus, handle=nonempty_names),
    st.builds(gearproto.GetStatusUnique, unique=nonempty_names),
    st.builds(gearproto.EchoReq, data=datas),
    st.builds(gearproto.OptionReq, option=nonempty_names),
    st.builds(gearproto.SetClientId, client_id=nonempty_names),
    st.just(gearproto.AdminCommand(command=b"status")),
    st.just(gearproto.AdminCommand(command=b"show", args=(b"unique", b"jobs"))),
    st.just(gearproto.AdminCommand(command=b"cancel", args=(b"job", b"H:1"))),
)
work_updates = st.one_of(
    st.builds(gearproto.WorkData, data=datas),
    st.builds(gearproto.WorkWarning, data=datas),
    st.builds(gearproto.WorkStatus, numerator=ints, denominator=ints),
    st.builds(gearproto.WorkComplete, data=datas),
    st.builds(gearproto.WorkFail),
    st.builds(gearproto.WorkException, data=datas),
)


def answer(draw: st.DrawFn, request: Event) -> Event:
    """A legal server answer to ``request``."""
    if isinstance(request, gearproto.AdminCommand):
        if request.command == b"status":
            return gearproto.StatusReply(
                functions=tuple(
                    gearproto.FunctionStatus(function=f, total=1, running=0, workers=2)
                    for f in draw(st.lists(text_names.filter(bool)))
                )
            )
        if request.command == b"show":
            return gearproto.ShowUniqueJobsReply(
                uniques=tuple(draw(st.lists(text_names.filter(lambda b: b != b"."))))
            )
        return draw(st.sampled_from([gearproto.AdminOk(), gearproto.AdminError(code=b"X")]))
    if draw(st.booleans()) and not isinstance(request, (gearproto.GetStatus, gearproto.EchoReq)):
        return gearproto.Error(code=b"QUEUE_ERROR", text=draw(datas))
    if isinstance(request, gearproto.GetStatus):
        return gearproto.StatusRes(
            handle=request.handle, known=True, running=False, numerator=1, denominator=2
        )
    if isinstance(request, gearproto.GetStatusUnique):
        return gearproto.StatusResUnique(unique=request.unique, known=False, running=False)
    if isinstance(request, gearproto.EchoReq):
        return gearproto.EchoRes(data=request.data)
    if isinstance(request, gearproto.OptionReq):
        return gearproto.OptionRes(option=request.option)
    return gearproto.JobCreated(handle=draw(nonempty_names))


@st.composite
def client_conversation(draw: st.DrawFn) -> tuple[list[Event], list[Event]]:
    requests = draw(st.lists(client_requests, max_size=8))
    answers: list[Event] = []
    for request in requests:
        if draw(st.booleans()):
            update = draw(work_updates)
            answers.append(type(update)(**{**_fields(update), "handle": draw(nonempty_names)}))
        if draw(st.booleans()):
            answers.append(gearproto.Error(code=b"JOB_NOT_FOUND", text=b"x"))
        if not isinstance(request, gearproto.SetClientId):
            answers.append(answer(draw, request))
    return requests, answers


def _fields(event: Event) -> dict[str, object]:
    return {name: getattr(event, name) for name in event.__dataclass_fields__}  # type: ignore[attr-defined]


splits = st.lists(st.integers(0, 30), max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conversation=client_conversation(), up=splits, down=splits)
def test_client_stream_survives_any_split(
    conversation: tuple[list[Event], list[Event]], up: list[int], down: list[int]
) -> None:
    requests, answers = conversation
    pair = ConnectionPair(CLIENT)
    pair.send(CLIENT, requests, chunk=up)
    pair.send(SERVER, answers, chunk=down)
    assert pair.peer.pending == ()


@st.composite
def worker_conversation(draw: st.DrawFn) -> list[tuple[gearproto.Role, list[Event]]]:
    steps: list[tuple[gearproto.Role, list[Event]]] = [
        (WORKER, [gearproto.CanDo(function=b"f"), gearproto.SetClientId(client_id=b"w")])
    ]
    held: list[bytes] = []
    for n in range(draw(st.integers(0, 5))):
        grab = draw(st.sampled_from([gearproto.GrabJob(), gearproto.GrabJobUniq()]))
        if draw(st.booleans()):
            steps.append((WORKER, [gearproto.PreSleep()]))
            steps.append((SERVER, [gearproto.Noop()]))
        steps.append((WORKER, [grab]))
        if draw(st.booleans()):
            steps.append((SERVER, [gearproto.NoJob()]))
            continue
        handle = b"H:%d" % n
        unique = draw(names) if isinstance(grab, gearproto.GrabJobUniq) else None
        steps.append(
            (
                SERVER,
                [
                    gearproto.JobAssign(
                        handle=handle, function=b"f", data=draw(datas), unique=unique
                    )
                ],
            )
        )
        held.append(handle)
        updates = [
            type(u)(**{**_fields(u), "handle": handle})
            for u in draw(st.lists(work_updates, max_size=3))
        ]
        steps.append((WORKER, [u for u in updates if not isinstance(u, WORK[3:])]))
    steps.extend(
        (WORKER, [gearproto.WorkComplete(handle=handle, data=draw(datas))]) for handle in held
    )
    return steps


@settings(max_examples=100, deadline=None)
@given(steps=worker_conversation(), chunks=splits)
def test_worker_stream_survives_any_split(
    steps: list[tuple[gearproto.Role, list[Event]]], chunks: list[int]
) -> None:
    pair = ConnectionPair(WORKER)
    for role, events in steps:
        pair.send(role, events, chunk=chunks)
    assert pair.peer.jobs == frozenset()
    assert pair.peer.worker_state is gearproto.WorkerState.IDLE

"""Helpers for testing code built on gearproto: an in-memory wire and golden packets.

:class:`ConnectionPair` joins a peer :class:`~gearproto.Connection` (a client or a
worker) to a server one, so a test can send events from either side and see what the
other side receives, whole, in chunks or one byte at a time::

    from gearproto import CLIENT, SERVER, JobCreated, SubmitJob
    from gearproto.testing import ConnectionPair

    pair = ConnectionPair(CLIENT)
    pair.send(CLIENT, SubmitJob(function=b"reverse", data=b"test"), chunk=1)
    pair.send(SERVER, JobCreated(handle=b"H:lap:1"))

:data:`GOLDEN` lists every packet type with the exact bytes gearmand sends or expects
for it. The bytes are written out by hand from gearmand's command table
(``libgearman/command.cc``) and its packet builders, not produced by gearproto, so they
can check any Gearman encoder or decoder.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Final, Literal, NamedTuple

from ._connection import CLIENT, SERVER, WORKER, Connection, Role
from ._events import (
    AllYours,
    CanDo,
    CanDoTimeout,
    CantDo,
    EchoReq,
    EchoRes,
    Error,
    Event,
    GetStatus,
    GetStatusUnique,
    GrabJob,
    GrabJobAll,
    GrabJobUniq,
    JobAssign,
    JobCreated,
    NoJob,
    Noop,
    OptionReq,
    OptionRes,
    PreSleep,
    Priority,
    ResetAbilities,
    SetClientId,
    StatusRes,
    StatusResUnique,
    SubmitJob,
    SubmitJobEpoch,
    SubmitJobSched,
    SubmitReduceJob,
    Unused,
    WorkComplete,
    WorkData,
    WorkException,
    WorkFail,
    WorkStatus,
    WorkWarning,
)

__all__ = ("GOLDEN", "MATCH", "ConnectionPair", "GoldenPacket", "drain", "split_wire")

#: Passed as ``expect`` to :meth:`ConnectionPair.send`: the receiver must see exactly the
#: events that were sent.
MATCH: Final = "match"


def split_wire(wire: bytes, chunk: int | Iterable[int] | None = None) -> Iterator[bytes]:
    """Cut ``wire`` into the pieces a socket might deliver.

    Args:
        wire: The bytes to cut.
        chunk: ``None`` for one piece; an ``int`` for pieces of that size (``1`` means
            byte by byte); an iterable of sizes for pieces of those sizes in turn (a size
            of 0 yields nothing), the rest in one piece.
    """
    if chunk is None:
        sizes: Iterable[int] = ()
    elif isinstance(chunk, int):
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        sizes = itertools.repeat(chunk)
    else:
        sizes = chunk
    pos = 0
    for size in sizes:
        if pos >= len(wire):
            return
        if size > 0:
            yield wire[pos : pos + size]
            pos += size
    if pos < len(wire):
        yield wire[pos:]


def drain(conn: Connection) -> list[Event]:
    """Every event ``conn`` can produce from the bytes it holds, up to :data:`NEED_DATA`.

    Stops after :class:`~gearproto.ConnectionClosed`.
    """
    return list(conn.events())


class ConnectionPair:
    """A peer :class:`~gearproto.Connection` and a server one, joined by an in-memory wire.

    Args:
        peer_role: :data:`~gearproto.CLIENT` or :data:`~gearproto.WORKER`.
        **limits: Passed to both connections (``max_packet_size`` and so on).

    Attributes:
        peer: The client or worker connection.
        server: The server connection.
    """

    def __init__(self, peer_role: Role = CLIENT, **limits: int) -> None:
        if peer_role is SERVER:
            raise ValueError("the peer of a ConnectionPair is a CLIENT or a WORKER")
        self.peer = Connection(peer_role, **limits)
        self.server = Connection(SERVER, **limits)
        self._peer_role = peer_role

    def conn(self, role: Role) -> Connection:
        """The connection playing ``role``."""
        if role is SERVER:
            return self.server
        if role is not self._peer_role:
            raise ValueError(f"this pair has no {role.value} connection")
        return self.peer

    def send(
        self,
        role: Role,
        events: Event | Iterable[Event],
        expect: Iterable[Event] | Literal["match"] = MATCH,
        *,
        chunk: int | Iterable[int] | None = None,
    ) -> bytes:
        """Send ``events`` from the ``role`` side and check what the other side receives.

        Args:
            role: The sending side.
            events: One event or several, sent in order.
            expect: The events the other side must receive; :data:`MATCH` (the default)
                means the events sent.
            chunk: How the bytes reach the receiver, as for :func:`split_wire`. After
                every piece the receiver is drained, so each partial state is exercised.

        Returns:
            The bytes that went over the wire.

        Raises:
            AssertionError: The receiver saw other events than expected.
        """
        sent = [events] if isinstance(events, Event) else list(events)
        sender = self.conn(role)
        receiver = self.peer if role is SERVER else self.server
        wire = b"".join(sender.send(event) for event in sent)
        received: list[Event] = []
        for piece in split_wire(wire, chunk):
            receiver.receive_data(piece)
            received += drain(receiver)
        wanted = sent if expect == MATCH else list(expect)
        if received != wanted:
            raise AssertionError(f"sent {sent!r}, received {received!r}, expected {wanted!r}")
        return wire

    def close(self, role: Role) -> list[Event]:
        """End the stream from the ``role`` side; the events the other side then produces."""
        receiver = self.peer if role is SERVER else self.server
        receiver.receive_data(b"")
        return drain(receiver)


class GoldenPacket(NamedTuple):
    """One packet with its exact wire bytes."""

    #: The event the bytes carry.
    event: Event
    #: ``"REQ"`` for a packet to the server, ``"RES"`` for one from it.
    direction: Literal["REQ", "RES"]
    #: The exact bytes, header included.
    wire: bytes
    #: The client or worker end: the sender of a REQ packet, the receiver of a RES one.
    peer: Role
    #: For an answer, the request the peer must have sent for the answer to be
    #: expected (``None`` otherwise).
    request: Event | None = None

    @property
    def name(self) -> str:
        """A short id for the packet, e.g. ``"REQ-7-SubmitJob"``."""
        return f"{self.direction}-{self.wire[7]}-{type(self.event).__name__}"


_H = b"H:lap:1"
_G = GoldenPacket

#: Every packet type (1-42) in every direction it travels, and the variants that
#: share a type number (the three JOB_ASSIGN packets, empty data, status answers).
GOLDEN: Final[tuple[GoldenPacket, ...]] = (
    _G(CanDo(function=b"reverse"), "REQ", b"\0REQ\0\0\0\x01\0\0\0\x07reverse", WORKER),
    _G(CantDo(function=b"reverse"), "REQ", b"\0REQ\0\0\0\x02\0\0\0\x07reverse", WORKER),
    _G(ResetAbilities(), "REQ", b"\0REQ\0\0\0\x03\0\0\0\0", WORKER),
    _G(PreSleep(), "REQ", b"\0REQ\0\0\0\x04\0\0\0\0", WORKER),
    _G(Unused(), "REQ", b"\0REQ\0\0\0\x05\0\0\0\0", CLIENT),
    _G(Noop(), "RES", b"\0RES\0\0\0\x06\0\0\0\0", WORKER),
    _G(
        SubmitJob(function=b"reverse", data=b"test"),
        "REQ",
        b"\0REQ\0\0\0\x07\0\0\0\x0dreverse\0\0test",
        CLIENT,
    ),
    _G(
        SubmitJob(function=b"reverse", unique=b"-", data=b"a\0b"),
        "REQ",
        b"\0REQ\0\0\0\x07\0\0\0\x0dreverse\0-\0a\0b",
        CLIENT,
    ),
    _G(
        SubmitJob(function=b"reverse"),
        "REQ",
        b"\0REQ\0\0\0\x07\0\0\0\x09reverse\0\0",
        CLIENT,
    ),
    _G(
        JobCreated(handle=_H),
        "RES",
        b"\0RES\0\0\0\x08\0\0\0\x07H:lap:1",
        CLIENT,
        SubmitJob(function=b"reverse"),
    ),
    _G(GrabJob(), "REQ", b"\0REQ\0\0\0\x09\0\0\0\0", WORKER),
    _G(NoJob(), "RES", b"\0RES\0\0\0\x0a\0\0\0\0", WORKER, GrabJob()),
    _G(
        JobAssign(handle=_H, function=b"reverse", data=b"test"),
        "RES",
        b"\0RES\0\0\0\x0b\0\0\0\x14H:lap:1\0reverse\0test",
        WORKER,
        GrabJob(),
    ),
    _G(
        WorkStatus(handle=_H, numerator=1, denominator=2),
        "REQ",
        b"\0REQ\0\0\0\x0c\0\0\0\x0bH:lap:1\x001\x002",
        WORKER,
    ),
    _G(
        WorkStatus(handle=_H, numerator=1, denominator=2),
        "RES",
        b"\0RES\0\0\0\x0c\0\0\0\x0bH:lap:1\x001\x002",
        CLIENT,
    ),
    _G(
        WorkComplete(handle=_H, data=b"tset"),
        "REQ",
        b"\0REQ\0\0\0\x0d\0\0\0\x0cH:lap:1\0tset",
        WORKER,
    ),
    _G(
        WorkComplete(handle=_H, data=b"tset"),
        "RES",
        b"\0RES\0\0\0\x0d\0\0\0\x0cH:lap:1\0tset",
        CLIENT,
    ),
    _G(WorkComplete(handle=b"H:x:1"), "RES", b"\0RES\0\0\0\x0d\0\0\0\x06H:x:1\0", CLIENT),
    _G(WorkFail(handle=_H), "REQ", b"\0REQ\0\0\0\x0e\0\0\0\x07H:lap:1", WORKER),
    _G(WorkFail(handle=_H), "RES", b"\0RES\0\0\0\x0e\0\0\0\x07H:lap:1", CLIENT),
    _G(GetStatus(handle=_H), "REQ", b"\0REQ\0\0\0\x0f\0\0\0\x07H:lap:1", CLIENT),
    _G(EchoReq(data=b"ping\0pong"), "REQ", b"\0REQ\0\0\0\x10\0\0\0\x09ping\0pong", CLIENT),
    _G(EchoReq(), "REQ", b"\0REQ\0\0\0\x10\0\0\0\0", WORKER),
    _G(
        EchoRes(data=b"ping\0pong"),
        "RES",
        b"\0RES\0\0\0\x11\0\0\0\x09ping\0pong",
        CLIENT,
        EchoReq(data=b"ping\0pong"),
    ),
    _G(
        SubmitJob(function=b"reverse", data=b"test", background=True),
        "REQ",
        b"\0REQ\0\0\0\x12\0\0\0\x0dreverse\0\0test",
        CLIENT,
    ),
    _G(
        Error(code=b"QUEUE_ERROR", text=b"Job queue is full"),
        "RES",
        b"\0RES\0\0\0\x13\0\0\0\x1dQUEUE_ERROR\0Job queue is full",
        CLIENT,
        SubmitJob(function=b"reverse"),
    ),
    _G(
        StatusRes(handle=b"H:x:9", known=False, running=False),
        "RES",
        b"\0RES\0\0\0\x14\0\0\0\x0dH:x:9\x000\x000\x000\x000",
        CLIENT,
        GetStatus(handle=b"H:x:9"),
    ),
    _G(
        StatusRes(handle=_H, known=True, running=True, numerator=3, denominator=4),
        "RES",
        b"\0RES\0\0\0\x14\0\0\0\x0fH:lap:1\x001\x001\x003\x004",
        CLIENT,
        GetStatus(handle=_H),
    ),
    _G(
        SubmitJob(function=b"reverse", data=b"test", priority=Priority.HIGH),
        "REQ",
        b"\0REQ\0\0\0\x15\0\0\0\x0dreverse\0\0test",
        CLIENT,
    ),
    _G(SetClientId(client_id=b"worker-1"), "REQ", b"\0REQ\0\0\0\x16\0\0\0\x08worker-1", WORKER),
    _G(
        CanDoTimeout(function=b"reverse", timeout=1000),
        "REQ",
        b"\0REQ\0\0\0\x17\0\0\0\x0creverse\x001000",
        WORKER,
    ),
    _G(AllYours(), "REQ", b"\0REQ\0\0\0\x18\0\0\0\0", WORKER),
    _G(
        WorkException(handle=_H, data=b"boom"),
        "REQ",
        b"\0REQ\0\0\0\x19\0\0\0\x0cH:lap:1\0boom",
        WORKER,
    ),
    _G(
        WorkException(handle=_H, data=b"boom"),
        "RES",
        b"\0RES\0\0\0\x19\0\0\0\x0cH:lap:1\0boom",
        CLIENT,
    ),
    _G(OptionReq(option=b"exceptions"), "REQ", b"\0REQ\0\0\0\x1a\0\0\0\x0aexceptions", CLIENT),
    _G(
        OptionRes(option=b"exceptions"),
        "RES",
        b"\0RES\0\0\0\x1b\0\0\0\x0aexceptions",
        CLIENT,
        OptionReq(option=b"exceptions"),
    ),
    _G(
        WorkData(handle=_H, data=b"part"),
        "REQ",
        b"\0REQ\0\0\0\x1c\0\0\0\x0cH:lap:1\0part",
        WORKER,
    ),
    _G(
        WorkData(handle=_H, data=b"part"),
        "RES",
        b"\0RES\0\0\0\x1c\0\0\0\x0cH:lap:1\0part",
        CLIENT,
    ),
    _G(
        WorkWarning(handle=_H, data=b"warn"),
        "REQ",
        b"\0REQ\0\0\0\x1d\0\0\0\x0cH:lap:1\0warn",
        WORKER,
    ),
    _G(
        WorkWarning(handle=_H, data=b"warn"),
        "RES",
        b"\0RES\0\0\0\x1d\0\0\0\x0cH:lap:1\0warn",
        CLIENT,
    ),
    _G(GrabJobUniq(), "REQ", b"\0REQ\0\0\0\x1e\0\0\0\0", WORKER),
    _G(
        JobAssign(handle=_H, function=b"reverse", unique=b"u1", data=b"test"),
        "RES",
        b"\0RES\0\0\0\x1f\0\0\0\x17H:lap:1\0reverse\0u1\0test",
        WORKER,
        GrabJobUniq(),
    ),
    _G(
        SubmitJob(function=b"reverse", data=b"test", priority=Priority.HIGH, background=True),
        "REQ",
        b"\0REQ\0\0\0\x20\0\0\0\x0dreverse\0\0test",
        CLIENT,
    ),
    _G(
        SubmitJob(function=b"reverse", data=b"test", priority=Priority.LOW),
        "REQ",
        b"\0REQ\0\0\0\x21\0\0\0\x0dreverse\0\0test",
        CLIENT,
    ),
    _G(
        SubmitJob(function=b"reverse", data=b"test", priority=Priority.LOW, background=True),
        "REQ",
        b"\0REQ\0\0\0\x22\0\0\0\x0dreverse\0\0test",
        CLIENT,
    ),
    _G(
        SubmitJobSched(
            function=b"reverse",
            minute=b"0",
            hour=b"12",
            day_of_month=b"1",
            month=b"6",
            day_of_week=b"3",
            data=b"test",
        ),
        "REQ",
        b"\0REQ\0\0\0\x23\0\0\0\x18reverse\0\x000\x0012\x001\x006\x003\0test",
        CLIENT,
    ),
    _G(
        SubmitJobEpoch(function=b"reverse", unique=b"u1", epoch=1700000000, data=b"test"),
        "REQ",
        b"\0REQ\0\0\0\x24\0\0\0\x1areverse\0u1\x001700000000\0test",
        CLIENT,
    ),
    _G(
        SubmitReduceJob(function=b"mapper", unique=b"u1", reducer=b"reducer", data=b"test"),
        "REQ",
        b"\0REQ\0\0\0\x25\0\0\0\x17mapper\0u1\0reducer\0\0test",
        CLIENT,
    ),
    _G(
        SubmitReduceJob(
            function=b"mapper", unique=b"u1", reducer=b"reducer", data=b"test", background=True
        ),
        "REQ",
        b"\0REQ\0\0\0\x26\0\0\0\x17mapper\0u1\0reducer\0\0test",
        CLIENT,
    ),
    _G(GrabJobAll(), "REQ", b"\0REQ\0\0\0\x27\0\0\0\0", WORKER),
    _G(
        JobAssign(handle=_H, function=b"mapper", unique=b"u1", reducer=b"reducer", data=b"test"),
        "RES",
        b"\0RES\0\0\0\x28\0\0\0\x1eH:lap:1\0mapper\0u1\0reducer\0test",
        WORKER,
        GrabJobAll(),
    ),
    _G(GetStatusUnique(unique=b"u1"), "REQ", b"\0REQ\0\0\0\x29\0\0\0\x02u1", CLIENT),
    _G(
        StatusResUnique(unique=b"u1", known=False, running=False),
        "RES",
        b"\0RES\0\0\0\x2a\0\0\0\x0cu1\x000\x000\x000\x000\x000",
        CLIENT,
        GetStatusUnique(unique=b"u1"),
    ),
    _G(
        StatusResUnique(
            unique=b"u1", known=True, running=False, numerator=3, denominator=4, client_count=2
        ),
        "RES",
        b"\0RES\0\0\0\x2a\0\0\0\x0cu1\x001\x000\x003\x004\x002",
        CLIENT,
        GetStatusUnique(unique=b"u1"),
    ),
)
"""The golden packets, in packet-number order."""

"""``Connection``: one side of one Gearman socket, as a sans-I/O state machine.

Theory of operation
-------------------
Bytes from the socket go in with :meth:`Connection.receive_data`; complete packets
come out of :meth:`Connection.next_event` as events; :meth:`Connection.send` turns an
event into the bytes to write. Nothing here touches a socket, a clock or a thread.

The receive buffer is an immutable ``bytes`` object plus a read offset. A read that
arrives when everything before it was parsed is adopted without a copy; leftovers are
joined to the next read. Each packet's header is checked the moment its 12 bytes are
in: magic, type, and size against ``max_packet_size`` (and against
``max_field_size`` for packets that have no opaque data part), so a hostile size is
refused before one byte of its body is buffered. The fixed NUL-terminated fields must
end within ``max_field_size`` bytes, which is what gearmand's 8 KiB receive buffer
enforces in practice. A large data part is collected as a list of the reads that carry
it and joined once when complete, so memory stays at about twice the payload and no
byte is copied more than once on the way in.

What the connection tracks is exactly what the protocol makes the two ends agree on:

* Requests that the server answers in order (submits, GET_STATUS, ECHO, OPTION, GRAB,
  admin commands) wait in one FIFO. Each answer is checked against the oldest request
  and carries it in its ``request`` field: a ``JobCreated`` pairs with its submit the
  way libgearman and Perl pair them. An ``Error`` pairs with the oldest request that
  can fail, except ``JOB_NOT_FOUND``, which only answers a ``Work*`` packet and is
  never a reply to a queued request.
* A worker is ``IDLE``, ``GRABBING`` (at least one GRAB is unanswered) or ``SLEEPING``
  (after PRE_SLEEP, until NOOP or its next GRAB), and holds a set of job handles: it
  may send ``Work*`` packets only for jobs it holds. GRABs may be pipelined, as gearmand
  allows: each gets its own JOB_ASSIGN*, NO_JOB or ERROR, in order, and a worker may
  hold several jobs at once.
* A server connection accepts client, worker and admin traffic on one socket, as
  gearmand does; keeping track of jobs there is the job server's business.

A :class:`RemoteProtocolError` poisons the connection (:attr:`ConnectionState.ERROR`):
``next_event`` raises from then on, while ``send`` still works so the caller can send
the ERROR packet of :attr:`~gearproto.ProtocolError.error_hint` before closing. A
:class:`LocalProtocolError` changes nothing: the event was refused before any byte or
state changed, so the connection stays usable.

When gearproto's C extension is built, ``next_event`` and ``send`` hand it the common
case (a small complete packet; an event of plain ``bytes`` fields) and take everything
else the Python way, so behaviour is the same with or without it (see
:mod:`gearproto._accel`).

A Connection is not thread-safe; one task or thread should own it.
"""

from __future__ import annotations

import enum
import struct
from collections import deque
from collections.abc import Iterator
from typing import Final, Literal

from . import _accel
from ._admin import (
    ADMIN_REPLIES,
    AdminCommand,
    decode_command,
    decode_line,
    decode_list,
    encode_command,
    encode_reply,
    reply_kind,
)
from ._decode import SPEC, TABLE, Entry, SmallDecoder, split_prefix
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import (
    AllYours,
    CanDo,
    CanDoTimeout,
    CantDo,
    ConnectionClosed,
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
from ._packets import (
    ENCODE,
    HEADER,
    HEADER_SIZE,
    LAYOUT,
    MAX_PAYLOAD_SIZE,
    RECEIVED_BY_PEER,
    RECEIVED_BY_SERVER,
    REQ,
    RES,
    PacketType,
)

__all__ = (
    "CLIENT",
    "DEFAULT_MAX_FIELD_SIZE",
    "DEFAULT_MAX_LINE_SIZE",
    "DEFAULT_MAX_PACKET_SIZE",
    "NEED_DATA",
    "SERVER",
    "WORKER",
    "Connection",
    "ConnectionState",
    "Role",
    "WorkerState",
)

#: Largest payload accepted by default: generous for jobs, finite for safety.
DEFAULT_MAX_PACKET_SIZE: Final = 256 * 1024 * 1024
#: Largest fixed (NUL-terminated) part of a packet; gearmand's receive buffer is 8 KiB.
DEFAULT_MAX_FIELD_SIZE: Final = 8192
#: Longest admin command line a server accepts; gearmand closes past about 8 KiB.
DEFAULT_MAX_LINE_SIZE: Final = 8192
#: Incomplete data packets larger than this are collected read by read.
_LARGE: Final = 32 * 1024


class Role(enum.Enum):
    """Which end of the socket a :class:`Connection` is."""

    CLIENT = "client"
    WORKER = "worker"
    SERVER = "server"


CLIENT: Final = Role.CLIENT
WORKER: Final = Role.WORKER
SERVER: Final = Role.SERVER


class ConnectionState(enum.Enum):
    """Whether a :class:`Connection` can still be used."""

    OPEN = "open"
    #: The peer's end of stream was reached; nothing more will arrive.
    CLOSED = "closed"
    #: The stream is desynchronised (bad input, or a write that failed half-way).
    ERROR = "error"


class WorkerState(enum.Enum):
    """What a worker connection is doing (see :attr:`Connection.worker_state`)."""

    #: No GRAB is unanswered and the worker is not asleep.
    IDLE = "idle"
    #: At least one GRAB (several may be pipelined) waits for its answer.
    GRABBING = "grabbing"
    #: PRE_SLEEP was sent; until a NOOP arrives or the next GRAB is sent.
    SLEEPING = "sleeping"


class _Need(enum.Enum):
    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


#: Returned by :meth:`Connection.next_event` when more bytes are needed.
NEED_DATA: Final = _Need.NEED_DATA

_GRABS: Final = (GrabJob, GrabJobUniq, GrabJobAll)
_SUBMITS: Final = (SubmitJob, SubmitJobEpoch, SubmitReduceJob, SubmitJobSched)
#: For each request that the server answers: the events that may answer it.
_ANSWERS: Final[dict[type, frozenset[type[Event]]]] = {  # looked up with type(None) too
    **{t: frozenset({JobCreated, Error}) for t in _SUBMITS},
    GetStatus: frozenset({StatusRes, Error}),
    GetStatusUnique: frozenset({StatusResUnique, Error}),
    EchoReq: frozenset({EchoRes, Error}),
    OptionReq: frozenset({OptionRes, Error}),
    **{t: frozenset({JobAssign, NoJob, Error}) for t in _GRABS},
    AllYours: frozenset({Error}),
    Unused: frozenset({Error}),
}
#: Requests that only wait in the FIFO for their answer (no other state to check).
_QUEUED: Final = frozenset(_ANSWERS) - set(_GRABS)
_REPLIES: Final = frozenset({JobCreated, StatusRes, StatusResUnique, EchoRes, OptionRes})
_COMMON: Final = frozenset({EchoReq, OptionReq, SetClientId, AdminCommand, Unused})
_SERVER_SENDS: Final = frozenset(
    {Noop, JobCreated, NoJob, JobAssign, EchoRes, Error, StatusRes, OptionRes, StatusResUnique}
    | {WorkData, WorkWarning, WorkStatus, WorkComplete, WorkFail, WorkException}
    | set(ADMIN_REPLIES)
)
_CLIENT_ONLY: Final[frozenset[type[Event]]] = frozenset(
    {SubmitJob, SubmitJobEpoch, SubmitReduceJob, SubmitJobSched, GetStatus, GetStatusUnique}
)
_WORKER_ONLY: Final[frozenset[type[Event]]] = frozenset(
    {GrabJob, GrabJobUniq, GrabJobAll, CanDo, CanDoTimeout, CantDo, ResetAbilities, PreSleep}
    | {AllYours, WorkData, WorkWarning, WorkStatus, WorkComplete, WorkFail, WorkException}
)
_SENDABLE: Final[dict[Role, frozenset[type[Event]]]] = {
    CLIENT: _COMMON | _CLIENT_ONLY,
    WORKER: _COMMON | _WORKER_ONLY,
    SERVER: _SERVER_SENDS,
}
_FINISH: Final = frozenset({WorkComplete, WorkFail, WorkException})
_WORK: Final = _FINISH | {WorkData, WorkWarning, WorkStatus}
_unpack: Final = HEADER.unpack_from
_unpack_key: Final = struct.Struct(">QI").unpack_from
_pack: Final = HEADER.pack
_JOB_NOT_FOUND: Final = b"JOB_NOT_FOUND"
_ALL_EVENTS: Final = frozenset(ENCODE)


class _Large:
    """A data packet being collected read by read."""

    __slots__ = ("entry", "fields", "have", "need", "parts", "rest")

    def __init__(self, entry: Entry, fields: list[bytes], first: bytes, need: int) -> None:
        self.entry = entry
        self.fields = fields
        self.parts = [first]
        self.have = len(first)
        self.need = need
        self.rest: list[bytes] = []


class Connection:
    """One end of a Gearman connection: bytes in, events out, bytes out.

    :param role: :data:`CLIENT`, :data:`WORKER` or :data:`SERVER`.
    :param max_packet_size: Largest payload accepted from the peer (bytes, up to
        4 GiB - 2). A header announcing more raises :class:`RemoteProtocolError` at once.
    :param max_field_size: Largest fixed part (the NUL-terminated fields, or the
        whole payload of a packet without opaque data).
    :param max_line_size: Longest admin command line a server accepts, its ``\\n``
        included.
    """

    def __init__(
        self,
        role: Role,
        *,
        max_packet_size: int = DEFAULT_MAX_PACKET_SIZE,
        max_field_size: int = DEFAULT_MAX_FIELD_SIZE,
        max_line_size: int = DEFAULT_MAX_LINE_SIZE,
    ) -> None:
        if not isinstance(role, Role):
            raise TypeError(f"role must be a gearproto.Role, not {role!r}")
        if not 0 <= max_packet_size <= MAX_PAYLOAD_SIZE:
            raise ValueError(f"max_packet_size must be in 0..{MAX_PAYLOAD_SIZE}")
        if max_field_size < 1 or max_line_size < 2:
            raise ValueError("max_field_size and max_line_size must be positive")
        self._role = role
        self._server = role is SERVER
        self._max_packet = max_packet_size
        self._max_field = max_field_size
        self._max_line = max_line_size
        self._our_magic = RES if self._server else REQ
        self._their_magic = REQ if self._server else RES
        receivable = RECEIVED_BY_SERVER if self._server else RECEIVED_BY_PEER
        # Keyed by the header's first 8 bytes read as one integer (magic, then type), so
        # one lookup checks both; a miss goes the slow way to find out what is wrong.
        magic = int.from_bytes(self._their_magic, "big") << 32
        # Per packet type: its small decoder, size limit, table entry, the size limit of
        # the fast path, and whether the pairing code must see the event.
        self._accept: dict[int, tuple[SmallDecoder, int, Entry, int, bool]] = {}
        for ptype in receivable:
            entry = TABLE[ptype]
            assert entry is not None
            limit = max_packet_size if entry.data else min(max_packet_size, max_field_size)
            pair = not self._server and SPEC[ptype][0] not in _WORK  # WORK_* never pair
            info = (entry.small, limit, entry, min(limit, max_field_size), pair)
            self._accept[magic | ptype] = info
        self._sendable = _SENDABLE[role]
        self._track = not self._server
        # send()'s fast path: binary events this role may send, while the connection is
        # usable. Anything else (admin text, errors, refusals) goes the long way.
        self._encoders = {t: ENCODE[t] for t in self._sendable if t in ENCODE}
        # The compiled fast paths, when built (see gearproto._accel): the limit is the
        # largest payload that every accepted type may have on the fast path.
        self._fast_limit = min(max_packet_size, max_field_size)
        unpaired = _ALL_EVENTS if self._server else _WORK
        self._decode = _accel.decoder(self._their_magic, frozenset(receivable), unpaired)
        self._encode = _accel.encoder(self._our_magic, self._sendable)
        self._buf = b""
        self._pos = 0
        self._scan = 0
        self._eof = False
        self._large: _Large | None = None
        self._state = ConnectionState.OPEN
        self._pending: deque[Event] = deque()
        self._rows: list[bytes] | None = None
        self._rows_size = 0
        self._worker_state = WorkerState.IDLE
        self._jobs: set[bytes] = set()
        self._grabs = 0  # GRABs sent and not yet answered

    # ------------------------------------------------------------------ properties

    @property
    def role(self) -> Role:
        """The role given at creation."""
        return self._role

    @property
    def state(self) -> ConnectionState:
        """Whether the connection is open, closed by the peer, or in error."""
        return self._state

    @property
    def worker_state(self) -> WorkerState:
        """For a worker: idle, grabbing (one or more GRABs unanswered) or sleeping."""
        return self._worker_state

    @property
    def jobs(self) -> frozenset[bytes]:
        """For a worker: the handles of the jobs it holds (assigned, not yet finished)."""
        return frozenset(self._jobs)

    @property
    def pending(self) -> tuple[Event, ...]:
        """Requests sent and not yet answered, oldest first."""
        return tuple(self._pending)

    # ------------------------------------------------------------------ receiving

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes read from the socket; ``b""`` means the peer closed its side."""
        if self._eof:
            raise LocalProtocolError("receive_data() after end of stream")
        if not data:
            self._eof = True
            return
        chunk = data if type(data) is bytes else bytes(data)
        large = self._large
        if large is not None:
            # The buffer stays empty while a large packet is collected, so the fast path
            # of next_event() falls through to finishing it; later bytes wait in `rest`.
            room = large.need - large.have
            if len(chunk) <= room:
                large.parts.append(chunk)
                large.have += len(chunk)
            elif room:
                large.parts.append(chunk[:room])
                large.have = large.need
                large.rest.append(chunk[room:])
            else:
                large.rest.append(chunk)
            return
        if self._pos >= len(self._buf):
            self._buf = chunk
            self._scan = 0
        else:
            self._buf = self._buf[self._pos :] + chunk
            self._scan = max(0, self._scan - self._pos)
            if len(self._buf) > _LARGE:
                self._maybe_start_large()
        self._pos = 0

    def _maybe_start_large(self) -> None:
        # Collect a big data part read by read even if nobody calls next_event() in
        # between, so that feeding many reads in a row stays linear.
        buf = self._buf
        if buf[0] or self._state is not ConnectionState.OPEN:
            return
        key, size = _unpack_key(buf, 0)
        info = self._accept.get(key)
        if info is None or size > info[1] or not info[2].data:
            return
        if HEADER_SIZE + size > len(buf):
            try:
                self._start_large(info[2], HEADER_SIZE, HEADER_SIZE + size)
            except RemoteProtocolError:
                pass  # next_event() finds and reports it

    def next_event(self) -> Event | Literal[_Need.NEED_DATA]:
        """The next event, or :data:`NEED_DATA` until more bytes arrive.

        At end of stream this returns :class:`~gearproto.ConnectionClosed` (every time
        it is called).

        Raises:
            RemoteProtocolError: the peer sent invalid bytes; the connection is poisoned.
        """
        buf = self._buf
        pos = self._pos
        try:
            key, size = _unpack_key(buf, pos)
        except struct.error:  # fewer than 12 bytes: also while a large packet is collected
            return self._slow_event()
        info = self._accept.get(key)
        end = pos + HEADER_SIZE + size
        # Anything but a small, complete, valid packet (text, errors, large or partial
        # packets) goes the slow way.
        if info is None or size > info[3] or end > len(buf):
            return self._slow_event()
        try:
            event = info[0](buf[pos + HEADER_SIZE : end])
            if event is None:
                raise self._missing_nul(info[2].name, size)
            self._pos = end
            return self._received(event) if info[4] else event
        except RemoteProtocolError:
            self._poison()
            raise

    def _next_event_compiled(self) -> Event | Literal[_Need.NEED_DATA]:
        # next_event() when gearproto._speedups is built: the same, with the fast path
        # (a small complete packet of an accepted type) in C.
        try:
            found = self._decode(self._buf, self._pos, self._fast_limit)
            if found is None:
                return self._slow_event()
            event, self._pos, pair = found
            if not pair:
                return event
            pending = self._pending
            if type(event) is JobAssign and pending and type(pending[0]) in _GRABS:
                # _received() and _grab_answered(), inlined: a worker's hot path.
                pending.popleft()
                self._grabs -= 1
                if not self._grabs:
                    self._worker_state = WorkerState.IDLE
                self._jobs.add(event.handle)
                return event
            return self._received(event)
        except RemoteProtocolError:
            self._poison()
            raise

    def _poison(self) -> None:
        # A non-NUL first byte sends every later call down the slow path, which raises.
        self._state = ConnectionState.ERROR
        if not self._server:
            self._encoders = {}
            self._encode = _accel.nothing
        self._buf = b"\xff"
        self._pos = 0
        self._large = None

    def events(self) -> Iterator[Event]:
        """Every event that the bytes received so far complete (stops at NEED_DATA).

        Events are decoded one at a time as the iterator is advanced, so sending
        between them is fine.
        """
        while True:
            event = self.next_event()
            if event is NEED_DATA:
                return
            yield event
            if type(event) is ConnectionClosed:
                return

    def _slow_event(self) -> Event | Literal[_Need.NEED_DATA]:
        """Everything but a small complete packet: errors, EOF, text, large or partial input."""
        try:
            return self._slow()
        except RemoteProtocolError:
            self._poison()
            raise

    def _slow(self) -> Event | Literal[_Need.NEED_DATA]:
        if self._state is ConnectionState.ERROR:
            raise RemoteProtocolError("the connection is in the ERROR state")
        if self._large is not None:
            return self._finish_large()
        buf = self._buf
        pos = self._pos
        n = len(buf)
        if pos >= n:
            if self._eof:
                if self._rows is not None:
                    raise RemoteProtocolError("connection closed in the middle of an admin reply")
                self._state = ConnectionState.CLOSED
                return ConnectionClosed()
            return NEED_DATA
        if buf[pos]:
            return self._text()
        if n - pos < HEADER_SIZE:
            head = buf[pos : pos + 4]
            if not (REQ.startswith(head) or RES.startswith(head)):
                raise RemoteProtocolError(f"bad magic {head!r} (gearmand closes)")
            return self._incomplete(n - pos, HEADER_SIZE)
        return self._binary(buf, pos)

    def _binary(self, buf: bytes, pos: int) -> Event | Literal[_Need.NEED_DATA]:
        """A binary packet that is large, incomplete or invalid."""
        key, size = _unpack_key(buf, pos)
        info = self._accept.get(key)
        if info is None:
            raise self._bad_header(*_unpack(buf, pos)[:2])
        _small, limit, entry, _, _ = info
        if size > limit:
            raise self._too_big(entry, size)
        start = pos + HEADER_SIZE
        end = start + size
        if end > len(buf):
            if entry.data and size > _LARGE and not self._eof:
                return self._start_large(entry, start, end)
            return self._incomplete(len(buf) - pos, size + HEADER_SIZE)
        event = entry.fast(buf, start, end, min(end, start + self._max_field))
        if event is None:
            raise self._missing_nul(entry.name, size)
        self._pos = end
        return event if self._server else self._received(event)

    def _too_big(self, entry: Entry, size: int) -> RemoteProtocolError:
        if size > self._max_packet:
            what = f"max_packet_size {self._max_packet}"
        else:
            what = f"max_field_size {self._max_field}"
        return RemoteProtocolError(f"{entry.name} of {size} bytes is over {what}")

    def _incomplete(self, have: int, need: int) -> Literal[_Need.NEED_DATA]:
        if self._eof:
            raise RemoteProtocolError(
                f"connection closed in the middle of a packet ({have} of {need} bytes)"
            )
        return NEED_DATA

    def _bad_header(self, magic: bytes, ptype: int) -> RemoteProtocolError:
        if magic not in (REQ, RES):
            return RemoteProtocolError(f"bad magic {magic!r} (gearmand closes)")
        if not 1 <= ptype <= 42:
            return RemoteProtocolError(f"unknown packet type {ptype} (gearmand closes)")
        name = PacketType(ptype).name
        if not self._server:
            return RemoteProtocolError(f"a server may not send {name} with {magic!r} magic")
        if magic == RES:
            return RemoteProtocolError(
                f"{name} sent to the server with RES magic",
                error_hint=Error(code=b"INVALID_MAGIC", text=b"Request magic expected"),
            )
        return RemoteProtocolError(
            f"{name} is a server-to-client packet",
            error_hint=Error(code=b"INVALID_COMMAND", text=b"Command not expected"),
        )

    def _missing_nul(self, name: str, size: int) -> RemoteProtocolError:
        return RemoteProtocolError(
            f"{name}: a NUL-terminated field is missing or longer than "
            f"max_field_size {self._max_field} (payload {size} bytes)"
        )

    def _start_large(self, entry: Entry, start: int, end: int) -> Literal[_Need.NEED_DATA]:
        buf = self._buf
        n = len(buf)
        fields: list[bytes] = []
        pos = start
        if entry.argc:
            limit = min(n, start + self._max_field)
            found = split_prefix(buf, start, entry.argc, limit)
            if found is None:
                if limit - start >= self._max_field:
                    raise self._missing_nul(entry.name, end - start)
                return NEED_DATA
            fields = found
            pos = start + sum(map(len, fields)) + len(fields)
        self._large = _Large(entry, fields, buf[pos:n], end - pos)
        self._buf = b""
        self._pos = 0
        self._scan = 0
        return NEED_DATA

    def _finish_large(self) -> Event | Literal[_Need.NEED_DATA]:
        large = self._large
        assert large is not None
        if large.have < large.need:
            return self._incomplete(large.have, large.need)
        self._large = None
        rest = large.rest
        if rest:
            self._buf = rest[0] if len(rest) == 1 else b"".join(rest)
            self._pos = 0
            self._scan = 0
        parts = large.parts
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        del large.parts, parts  # the joined data is now the only copy
        event = large.entry.from_fields([*large.fields, data])
        return event if self._server else self._received(event)

    # ------------------------------------------------------------------ text

    def _line(self, limit: int) -> bytes | None:
        buf, pos = self._buf, self._pos
        stop = min(len(buf), pos + limit)
        nl = buf.find(b"\n", max(pos, self._scan), stop)
        if nl < 0:
            if stop - pos >= limit:
                raise RemoteProtocolError(f"text line longer than {limit} bytes")
            self._scan = len(buf)
            self._incomplete(len(buf) - pos, len(buf) - pos + 1)
            return None
        self._pos = nl + 1
        self._scan = nl + 1
        return buf[pos:nl]

    def _text(self) -> Event | Literal[_Need.NEED_DATA]:
        if self._server:
            line = self._line(self._max_line)
            return NEED_DATA if line is None else decode_command(line)
        head = self._pending[0] if self._pending else None
        if type(head) is not AdminCommand:
            raise RemoteProtocolError(
                f"bad magic {self._buf[self._pos : self._pos + 4]!r}: text when no admin "
                "command is waiting for a reply"
            )
        kind = reply_kind(head)
        while True:
            line = self._line(self._max_packet - self._rows_size)
            if line is None:
                return NEED_DATA
            crlf = line.endswith(b"\r")
            if crlf:
                line = line[:-1]
            rows = self._rows
            if rows is None:
                event = decode_line(kind, line, crlf)
                if event is not None:
                    self._pending.popleft()
                    return event
                rows = self._rows = []
            if line == b".":
                self._rows = None
                self._rows_size = 0
                self._pending.popleft()
                return decode_list(kind, rows)
            rows.append(line)
            self._rows_size += len(line) + 1

    # ------------------------------------------------------------------ pairing

    def _received(self, event: Event) -> Event:
        kind = type(event)
        pending = self._pending
        head = pending[0] if pending else None
        if kind is JobAssign or kind is NoJob:  # the answers to a GRAB come first: hot
            if type(head) not in _GRABS:
                raise self._unexpected(kind, head)
            self._grab_answered()
            if kind is JobAssign:
                self._jobs.add(event.handle)  # type: ignore[attr-defined]
        elif kind in _REPLIES:
            if kind not in _ANSWERS.get(type(head), ()):
                raise self._unexpected(kind, head)
            pending.popleft()
            object.__setattr__(event, "request", head)
        elif kind is Error:
            if (
                head is not None
                and type(head) is not AdminCommand
                and event.code != _JOB_NOT_FOUND  # type: ignore[attr-defined]
            ):
                if type(head) in _GRABS:
                    self._grab_answered()
                else:
                    pending.popleft()
                object.__setattr__(event, "request", head)
        elif kind is Noop and self._worker_state is WorkerState.SLEEPING:
            self._worker_state = WorkerState.IDLE
        return event

    def _grab_answered(self) -> None:
        self._pending.popleft()
        self._grabs -= 1
        if not self._grabs:
            self._worker_state = WorkerState.IDLE

    @staticmethod
    def _unexpected(kind: type[Event], head: Event | None) -> RemoteProtocolError:
        waiting = type(head).__name__ if head is not None else "nothing"
        return RemoteProtocolError(
            f"unexpected {kind.__name__} while waiting for an answer to {waiting}"
        )

    # ------------------------------------------------------------------ sending

    def send(self, event: Event) -> bytes:
        """The bytes that carry ``event`` to the peer.

        Raises:
            LocalProtocolError: the event is malformed or not allowed now; nothing
                changes and the connection can still be used.
        """
        encode = self._encoders.get(type(event))
        if encode is None:
            return b"".join(self.send_vectored(event))
        ptype, fields = encode(event)
        if len(fields[-1]) > _LARGE:  # no copy of a large data part here, and the size check
            return b"".join(self.send_vectored(event))
        if self._track:
            self._sent(event, type(event))
        payload = b"\0".join(fields)
        return _pack(self._our_magic, ptype, len(payload)) + payload

    def _send_compiled(self, event: Event) -> bytes:
        # send() when gearproto._speedups is built: the common case is encoded in C,
        # anything else (refusals included) goes the long way, as in send().
        data = self._encode(event)
        if data is None:
            return b"".join(self.send_vectored(event))
        if self._track:
            self._sent(event, type(event))
        return data

    def send_vectored(self, event: Event) -> list[bytes]:
        """Like :meth:`send`, with the header and the payload's data part as separate items.

        Write them in order (``socket.sendmsg`` or one write each): a large payload is
        never concatenated with its header.
        """
        kind = type(event)
        if kind not in self._sendable:
            raise LocalProtocolError(f"a {self._role.value} connection can't send {kind.__name__}")
        if self._state is ConnectionState.ERROR and not self._encoders:
            raise LocalProtocolError("can't send: the connection is in the ERROR state")
        if kind is AdminCommand:
            line = encode_command(event)  # type: ignore[arg-type]
            self._pending.append(event)
            return [line]
        if kind in ADMIN_REPLIES:
            return [encode_reply(event)]
        ptype, fields = ENCODE[kind](event)
        size = sum(map(len, fields)) + len(fields) - 1
        if size > MAX_PAYLOAD_SIZE:
            raise LocalProtocolError(f"payload of {size} bytes is over the protocol's 4 GiB")
        if self._track:
            self._sent(event, kind)
        head = _pack(self._our_magic, ptype, size)
        data = fields[-1]
        if LAYOUT[ptype][1] and data:  # the last field is the data part: keep it apart
            return [head + b"".join(f + b"\0" for f in fields[:-1]), data]
        return [head + b"\0".join(fields)]

    def _sent(self, event: Event, kind: type[Event]) -> None:
        # Checks come before any change, so a refused event leaves the state untouched.
        if kind in _QUEUED:  # the common case first: a submit
            self._pending.append(event)
        elif kind in _WORK:  # only a worker may send these
            handle = event.handle  # type: ignore[attr-defined]
            if handle not in self._jobs:
                raise LocalProtocolError(f"{kind.__name__} for job {handle!r}, not held")
            if kind in _FINISH:
                self._jobs.discard(handle)
        elif kind in _GRABS:  # pipelined GRABs are fine: each gets its own answer
            self._grabs += 1
            self._worker_state = WorkerState.GRABBING
            self._pending.append(event)
        elif kind is PreSleep:
            if self._worker_state is not WorkerState.IDLE:
                state = self._worker_state.value
                raise LocalProtocolError(f"can't send PreSleep while {state}")
            self._worker_state = WorkerState.SLEEPING

    def send_failed(self) -> None:
        """Tell the connection a write failed or was cancelled; it becomes unusable."""
        self._state = ConnectionState.ERROR
        self._encoders = {}
        self._encode = _accel.nothing


if _accel.COMPILED:
    Connection._next_event_compiled.__doc__ = Connection.next_event.__doc__
    Connection._send_compiled.__doc__ = Connection.send.__doc__
    Connection.next_event = Connection._next_event_compiled  # type: ignore[method-assign]
    Connection.send = Connection._send_compiled  # type: ignore[method-assign]

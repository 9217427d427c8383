"""Events: one frozen dataclass per Gearman packet.

The same classes are used to send and to receive. Packets that differ only in priority
or in being a background job are one event with fields (``SubmitJob``); the three
``JOB_ASSIGN`` packets are one ``JobAssign`` whose optional ``unique`` and ``reducer``
say which packet it is. Fields are ``bytes`` on the wire and ``int``/``bool`` where the
protocol carries ASCII numbers or flags.

Direction notes use C (client), W (worker) and S (server).
"""

from __future__ import annotations

import enum
import inspect
from dataclasses import dataclass, field, fields
from typing import Any

from ._build import plain_new, rebuild, speed_up_all

__all__ = (
    "AllYours",
    "CanDo",
    "CanDoTimeout",
    "CantDo",
    "ConnectionClosed",
    "EchoReq",
    "EchoRes",
    "Error",
    "Event",
    "GetStatus",
    "GetStatusUnique",
    "GrabJob",
    "GrabJobAll",
    "GrabJobUniq",
    "JobAssign",
    "JobCreated",
    "NoJob",
    "Noop",
    "OptionReq",
    "OptionRes",
    "PreSleep",
    "Priority",
    "ResetAbilities",
    "SetClientId",
    "StatusRes",
    "StatusResUnique",
    "SubmitJob",
    "SubmitJobEpoch",
    "SubmitJobSched",
    "SubmitReduceJob",
    "Unused",
    "WorkComplete",
    "WorkData",
    "WorkException",
    "WorkFail",
    "WorkStatus",
    "WorkWarning",
)


class Priority(enum.Enum):
    """Job priority. Higher priorities are handed to workers first."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Event:
    """Base class of every event."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if inspect.get_annotations(cls) and cls.__mro__[1] is not Event:
            cls.__new__ = plain_new  # type: ignore[method-assign]  # a subclass adds fields

    def __reduce__(self) -> tuple[Any, ...]:
        names = [f.name for f in fields(self)]  # type: ignore[arg-type]
        return rebuild, (type(self), {n: getattr(self, n) for n in names})


# --------------------------------------------------------------------------- worker


@dataclass(frozen=True, slots=True, kw_only=True)
class CanDo(Event):
    """W→S CAN_DO: the worker can run ``function``. No reply."""

    function: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class CanDoTimeout(Event):
    """W→S CAN_DO_TIMEOUT: like :class:`CanDo`, with a time limit per job.

    Attributes:
        function: The function name.
        timeout: Milliseconds a job may run before the server takes it back and
            requeues it. gearmand raises values below 1000 to 1000; 0 means no limit.
    """

    function: bytes
    timeout: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CantDo(Event):
    """W→S CANT_DO: the worker no longer runs ``function``; its jobs are requeued."""

    function: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetAbilities(Event):
    """W→S RESET_ABILITIES: forget every function this worker registered."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PreSleep(Event):
    """W→S PRE_SLEEP: the worker is going to sleep until the server sends :class:`Noop`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Noop(Event):
    """S→W NOOP: wake up, there may be work. Sent only after :class:`PreSleep`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GrabJob(Event):
    """W→S GRAB_JOB: ask for a job; answered by :class:`JobAssign` or :class:`NoJob`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GrabJobUniq(Event):
    """W→S GRAB_JOB_UNIQ: like :class:`GrabJob`; the assignment carries the unique id."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GrabJobAll(Event):
    """W→S GRAB_JOB_ALL: like :class:`GrabJobUniq`; reduce jobs also carry the reducer.

    This is what libgearman workers (the ``gearman -w`` CLI, PHP) send by default.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class NoJob(Event):
    """S→W NO_JOB: nothing to do; the worker usually sends :class:`PreSleep` next."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobAssign(Event):
    """S→W JOB_ASSIGN, JOB_ASSIGN_UNIQ or JOB_ASSIGN_ALL: a job for the worker to run.

    Attributes:
        handle: The job handle, used in every ``Work*`` packet about this job.
        function: The function to run.
        data: The workload; opaque bytes.
        unique: The unique id as submitted (JOB_ASSIGN_UNIQ and JOB_ASSIGN_ALL);
            ``None`` for a plain JOB_ASSIGN.
        reducer: The reducer function of a map/reduce job (JOB_ASSIGN_ALL only);
            ``None`` otherwise.
    """

    handle: bytes
    function: bytes
    data: bytes = b""
    unique: bytes | None = None
    reducer: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AllYours(Event):
    """W→S ALL_YOURS: reserved; gearmand answers ``INVALID_COMMAND``."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkData(Event):
    """W→S→C WORK_DATA: a piece of the result, sent before :class:`WorkComplete`."""

    handle: bytes
    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkWarning(Event):
    """W→S→C WORK_WARNING: a warning from the worker; the job goes on."""

    handle: bytes
    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkStatus(Event):
    """W→S→C WORK_STATUS: progress, ``numerator`` out of ``denominator``."""

    handle: bytes
    numerator: int
    denominator: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkComplete(Event):
    """W→S→C WORK_COMPLETE: the job finished; ``data`` is (the last piece of) the result."""

    handle: bytes
    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkFail(Event):
    """W→S→C WORK_FAIL: the job failed; there is no result."""

    handle: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkException(Event):
    """W→S→C WORK_EXCEPTION: the job failed with an exception described by ``data``.

    The server forwards it only to clients that enabled the ``exceptions`` option and
    turns it into :class:`WorkFail` for the others.
    """

    handle: bytes
    data: bytes = b""


# --------------------------------------------------------------------------- client


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitJob(Event):
    """C→S SUBMIT_JOB and its _BG, _HIGH, _HIGH_BG, _LOW and _LOW_BG variants.

    Attributes:
        function: The function to run.
        unique: The unique id. Jobs of one function with the same unique id are
            coalesced into one; ``b"-"`` coalesces by ``data``; ``b""`` never coalesces.
        data: The workload; opaque bytes.
        priority: Which of the three queues the job goes to.
        background: ``True`` for a background job: the client gets :class:`JobCreated`
            and nothing more.
    """

    function: bytes
    unique: bytes = b""
    data: bytes = b""
    priority: Priority = Priority.NORMAL
    background: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitJobEpoch(Event):
    """C→S SUBMIT_JOB_EPOCH: a background job of normal priority, run at ``epoch``.

    Attributes:
        function: The function to run.
        unique: The unique id, as for :class:`SubmitJob`.
        epoch: Unix time in seconds; the job does not run before it.
        data: The workload.
    """

    function: bytes
    unique: bytes = b""
    epoch: int
    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitReduceJob(Event):
    """C→S SUBMIT_REDUCE_JOB and SUBMIT_REDUCE_JOB_BACKGROUND: a map/reduce job.

    Attributes:
        function: The mapper function.
        unique: The unique id, as for :class:`SubmitJob`.
        reducer: The reducer function the worker's library calls on the pieces.
        data: The workload.
        aggregate: Reserved by the protocol; libgearman sends it empty.
        background: ``True`` for SUBMIT_REDUCE_JOB_BACKGROUND.
    """

    function: bytes
    unique: bytes = b""
    reducer: bytes
    data: bytes = b""
    aggregate: bytes = b""
    background: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitJobSched(Event):
    """C→S SUBMIT_JOB_SCHED: reserved (cron-style fields); gearmand answers ``INVALID_COMMAND``."""

    function: bytes
    unique: bytes = b""
    minute: bytes = b""
    hour: bytes = b""
    day_of_month: bytes = b""
    month: bytes = b""
    day_of_week: bytes = b""
    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCreated(Event):
    """S→C JOB_CREATED: the answer to a submit.

    Attributes:
        handle: The new job's handle (or an existing one, when the submit coalesced).
        request: On a received event, the submit this answers (pairing is by order, as
            in libgearman and Perl). Not part of the packet and not compared.
    """

    handle: bytes
    request: Event | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class GetStatus(Event):
    """C→S GET_STATUS: ask for the status of the job with ``handle``."""

    handle: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRes(Event):
    """S→C STATUS_RES: the answer to :class:`GetStatus`.

    Attributes:
        handle: The handle asked about.
        known: The server holds the job (queued or running).
        running: A worker is running the job.
        numerator: Progress from the last :class:`WorkStatus` (0 until then).
        denominator: Progress from the last :class:`WorkStatus` (0 until then).
        request: On a received event, the :class:`GetStatus` this answers; not compared.
    """

    handle: bytes
    known: bool
    running: bool
    numerator: int = 0
    denominator: int = 0
    request: Event | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class GetStatusUnique(Event):
    """C→S GET_STATUS_UNIQUE: ask for the status of the job with ``unique``."""

    unique: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusResUnique(Event):
    """S→C STATUS_RES_UNIQUE: the answer to :class:`GetStatusUnique`.

    Attributes are those of :class:`StatusRes`, keyed by ``unique``, plus
    ``client_count``: the number of clients waiting for the job's result.
    """

    unique: bytes
    known: bool
    running: bool
    numerator: int = 0
    denominator: int = 0
    client_count: int = 0
    request: Event | None = field(default=None, compare=False, repr=False)


# --------------------------------------------------------------------------- any role


@dataclass(frozen=True, slots=True, kw_only=True)
class EchoReq(Event):
    """C/W→S ECHO_REQ: the server sends ``data`` back in :class:`EchoRes`."""

    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class EchoRes(Event):
    """S→C/W ECHO_RES: the answer to :class:`EchoReq`, with the same bytes."""

    data: bytes = b""
    request: Event | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionReq(Event):
    """C/W→S OPTION_REQ: turn on a server option for this connection.

    The only option gearmand knows is ``exceptions`` (case-insensitive).
    """

    option: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionRes(Event):
    """S→C/W OPTION_RES: the option was accepted; it echoes the request's bytes."""

    option: bytes
    request: Event | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetClientId(Event):
    """C/W→S SET_CLIENT_ID: name this connection; ``workers`` shows it. No reply."""

    client_id: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Error(Event):
    """S→C/W ERROR: the server refused the request before it.

    Attributes:
        code: A libgearman return-code name without ``GEARMAN_``, e.g.
            ``b"QUEUE_ERROR"``, ``b"JOB_NOT_FOUND"``, ``b"INVALID_COMMAND"``.
        text: A human-readable explanation.
        request: On a received event, the request it answers when that is known (a
            submit, :class:`OptionReq` or a reserved packet); not compared.
    """

    code: bytes
    text: bytes = b""
    request: Event | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unused(Event):
    """Packet type 5 (UNUSED): reserved; gearmand answers ``INVALID_COMMAND``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed(Event):
    """The peer closed its side of the connection (end of stream, not a packet)."""


speed_up_all(globals(), Event)

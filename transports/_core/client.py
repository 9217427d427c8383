"""The client side of one connection, without I/O: submits, replies, and results by handle.

A :class:`ClientSession` wraps a :class:`gearproto.Connection`. It turns requests into
bytes, and the bytes the server sends into changes of :class:`TaskState` and
:class:`Reply` objects, calling their ``notify`` hook so the flavour can wake whoever
waits. Replies that the server sends in order (JOB_CREATED, STATUS_RES, ECHO_RES …) are
paired with their request by gearproto; results (WORK_*) are matched by exact handle,
never by order.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import gearproto

from .._errors import GearmanError, JobException, JobFailed, ServerError
from .convert import Data, PriorityName, epoch_seconds, to_bytes
from .convert import priority as to_priority
from .servers import Address

__all__ = ("ClientSession", "JobStatus", "Reply", "TaskState", "Update")

log = logging.getLogger("transports.client")


@dataclass(frozen=True)
class Update:
    """Something a worker sent about a running job.

    Attributes:
        kind: ``"data"`` (WORK_DATA), ``"warning"`` (WORK_WARNING) or ``"status"``
            (WORK_STATUS).
        data: The bytes of a data or warning update.
        numerator: Progress of a status update.
        denominator: Progress of a status update.
    """

    kind: Literal["data", "warning", "status"]
    data: bytes = b""
    numerator: int = 0
    denominator: int = 0


@dataclass(frozen=True)
class JobStatus:
    """The answer to a status request (GET_STATUS or GET_STATUS_UNIQUE).

    Attributes:
        known: The server holds the job (queued or running).
        running: A worker is running it.
        numerator: Progress from the job's last WORK_STATUS.
        denominator: Progress from the job's last WORK_STATUS.
        client_count: For a status by unique id: clients waiting for the result.
        handle: The handle asked about (status by handle).
        unique: The unique id asked about (status by unique).
    """

    known: bool
    running: bool
    numerator: int = 0
    denominator: int = 0
    client_count: int = 0
    handle: bytes = b""
    unique: bytes = b""


def _nothing() -> None:
    pass


class TaskState:
    """One submitted job as the client sees it: request, handle, updates, outcome."""

    def __init__(
        self, request: gearproto.SubmitJob | gearproto.SubmitJobEpoch, key: bytes | None = None
    ) -> None:
        self.request = request
        #: What picks the server: the unique id the caller gave (``b""``: round robin).
        self.key = request.unique if key is None else key
        self.background = isinstance(request, gearproto.SubmitJobEpoch) or request.background
        self.handle: bytes | None = None
        self.server: Address | None = None
        self.updates: list[Update] = []
        self.result: bytes | None = None
        self.error: GearmanError | None = None
        self.done = False
        self.attempts = 0
        self.numerator = 0
        self.denominator = 0
        #: Called after every change (an update, the handle, the outcome).
        self.notify: Callable[[], None] = _nothing
        #: Called with each update as it arrives.
        self.on_update: Callable[[Update], None] | None = None

    def created(self, handle: bytes, server: Address) -> None:
        """JOB_CREATED arrived; a background job is done now."""
        self.handle = handle
        self.server = server
        if self.background:
            self.done = True

    def fail(self, error: GearmanError) -> None:
        """Finish the task with ``error`` (unless it already finished)."""
        if not self.done:
            self.error = error
            self.done = True

    def apply(self, event: gearproto.Event) -> bool:
        """Apply a WORK_* event; ``True`` when it finished the task."""
        kind = type(event)
        update: Update | None = None
        if kind is gearproto.WorkData:
            update = Update("data", event.data)  # type: ignore[attr-defined]
        elif kind is gearproto.WorkWarning:
            update = Update("warning", event.data)  # type: ignore[attr-defined]
        elif kind is gearproto.WorkStatus:
            self.numerator = event.numerator  # type: ignore[attr-defined]
            self.denominator = event.denominator  # type: ignore[attr-defined]
            update = Update("status", b"", self.numerator, self.denominator)
        elif kind is gearproto.WorkComplete:
            self.result = event.data  # type: ignore[attr-defined]
            self.done = True
        elif kind is gearproto.WorkFail:
            self.error = JobFailed(handle=self.handle)
            self.done = True
        elif kind is gearproto.WorkException:
            self.error = JobException(event.data, handle=self.handle)  # type: ignore[attr-defined]
            self.done = True
        if update is not None:
            self.updates.append(update)
            if self.on_update is not None:
                try:
                    self.on_update(update)
                except Exception:
                    log.exception("update callback of job %r failed", self.handle)
        return self.done

    def outcome(self) -> bytes:
        """The result of a finished foreground task, or raise its error."""
        if self.error is not None:
            raise self.error
        assert self.done
        return self.result if self.result is not None else (self.handle or b"")


class Reply:
    """A request answered in order (status, echo, option): the answer or an error."""

    def __init__(self) -> None:
        self.value: gearproto.Event | None = None
        self.error: GearmanError | None = None
        self.done = False
        self.notify: Callable[[], None] = _nothing

    def outcome(self) -> gearproto.Event:
        """The answer, or raise the error."""
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return self.value


class ClientSession:
    """One client connection's protocol state. Not thread-safe: the flavour locks."""

    def __init__(
        self,
        address: Address,
        *,
        client_id: bytes = b"",
        exceptions: bool = True,
        max_packet_size: int = gearproto.DEFAULT_MAX_PACKET_SIZE,
    ) -> None:
        self.address = address
        self.conn = gearproto.Connection(gearproto.CLIENT, max_packet_size=max_packet_size)
        self._client_id = client_id
        self._exceptions = exceptions
        self._waiting: deque[TaskState | Reply | None] = deque()
        self._tasks: dict[bytes, deque[TaskState]] = {}
        self.closed = False
        #: The server closed the connection; the flavour calls :meth:`lost`.
        self.eof = False

    def handshake(self) -> bytes:
        """What to send first on a new connection: the client id and options."""
        out = b""
        if self._client_id:
            out += self.conn.send(gearproto.SetClientId(client_id=self._client_id))
        if self._exceptions:
            out += self._send(gearproto.OptionReq(option=b"exceptions"), None)
        return out

    def _send(self, event: gearproto.Event, waiter: TaskState | Reply | None) -> bytes:
        data = self.conn.send(event)
        self._waiting.append(waiter)
        return data

    def submit(self, task: TaskState) -> bytes:
        """The bytes that submit ``task`` on this connection."""
        task.attempts += 1
        return self._send(task.request, task)

    def request(self, event: gearproto.Event, reply: Reply) -> bytes:
        """The bytes of a request answered in order (GET_STATUS, ECHO_REQ, OPTION_REQ)."""
        return self._send(event, reply)

    def detach(self, task: TaskState) -> None:
        """Stop delivering results to ``task`` (it timed out or was abandoned)."""
        if task.handle is not None:
            tasks = self._tasks.get(task.handle)
            if tasks is not None and task in tasks:
                tasks.remove(task)
                if not tasks:
                    del self._tasks[task.handle]

    @property
    def answers_due(self) -> bool:
        """Whether a request sent on this connection still waits for its answer."""
        return bool(self._waiting)

    @property
    def busy(self) -> bool:
        """Whether anything is still waiting for this connection."""
        return bool(self._waiting or self._tasks)

    def receive(self, data: bytes) -> None:
        """Feed bytes read from the socket (``b""`` at end of stream)."""
        self.conn.receive_data(data)
        next_event, tasks_by_handle, waiting = self.conn.next_event, self._tasks, self._waiting
        while True:
            event = next_event()
            if event is gearproto.NEED_DATA:
                return
            # The two packets of a foreground job, inline; the rest in _event.
            if type(event) is gearproto.JobCreated:
                waiter = waiting[0]
                if type(waiter) is TaskState and not waiter.background:
                    waiting.popleft()
                    handle = waiter.handle = event.handle
                    waiter.server = self.address
                    tasks = tasks_by_handle.get(handle)
                    if tasks is None:
                        tasks_by_handle[handle] = deque((waiter,))
                    else:
                        tasks.append(waiter)
                    continue
            elif type(event) is gearproto.WorkComplete:
                tasks = tasks_by_handle.get(event.handle)
                if tasks is not None and len(tasks) == 1:
                    task = tasks[0]
                    del tasks_by_handle[event.handle]
                    task.result = event.data
                    task.done = True
                    task.notify()
                    continue
            elif type(event) is gearproto.ConnectionClosed:
                self.eof = True
                return
            self._event(event)

    def _event(self, event: gearproto.Event) -> None:
        kind = type(event)
        if kind in _RESULTS:
            handle: bytes = event.handle  # type: ignore[attr-defined]
            tasks = self._tasks.get(handle)
            if not tasks:
                log.debug("%s for unknown handle %r ignored", kind.__name__, handle)
                return
            # A connection attached twice (same unique submitted twice) receives every
            # packet once per attachment: hand the copies out in turn.
            task = tasks[0]
            tasks.rotate(-1)
            if task.apply(event):
                tasks.remove(task)
                if not tasks:
                    del self._tasks[handle]
            task.notify()
            return
        request = getattr(event, "request", None)
        if request is None:
            if kind is gearproto.Error:
                log.warning("job server %s: %r", self.address, event)
            return
        waiter = self._waiting.popleft()
        if kind is gearproto.JobCreated:
            assert isinstance(waiter, TaskState)
            waiter.created(event.handle, self.address)  # type: ignore[attr-defined]
            if not waiter.done:
                self._tasks.setdefault(waiter.handle, deque()).append(waiter)  # type: ignore[arg-type]
                return  # nobody waits for the handle of a foreground job: no wake-up
        elif waiter is None:
            if kind is gearproto.Error:
                log.info("job server %s refused an option: %r", self.address, event)
            return
        elif kind is gearproto.Error:
            error = ServerError(event.code, event.text)  # type: ignore[attr-defined]
            if isinstance(waiter, TaskState):
                waiter.fail(error)
            else:
                waiter.error = error
                waiter.done = True
        else:
            assert isinstance(waiter, Reply)
            waiter.value = event
            waiter.done = True
        waiter.notify()

    def lost(self, error: GearmanError) -> list[TaskState]:
        """The connection is gone: fail running tasks; return the submits to resend."""
        if self.closed:
            return []
        self.closed = True
        resend: list[TaskState] = []
        for waiter in self._waiting:
            if isinstance(waiter, TaskState):
                if not waiter.done:
                    resend.append(waiter)
            elif waiter is not None:
                waiter.error = error
                waiter.done = True
                waiter.notify()
        self._waiting.clear()
        for tasks in self._tasks.values():
            for task in tasks:
                task.fail(error)
                task.notify()
        self._tasks.clear()
        return resend


_RESULTS = frozenset(
    {
        gearproto.WorkData,
        gearproto.WorkWarning,
        gearproto.WorkStatus,
        gearproto.WorkComplete,
        gearproto.WorkFail,
        gearproto.WorkException,
    }
)


def status_of(event: gearproto.Event) -> JobStatus:
    """A :class:`JobStatus` from STATUS_RES or STATUS_RES_UNIQUE."""
    if isinstance(event, gearproto.StatusRes):
        return JobStatus(
            event.known, event.running, event.numerator, event.denominator, handle=event.handle
        )
    assert isinstance(event, gearproto.StatusResUnique)
    return JobStatus(
        event.known,
        event.running,
        event.numerator,
        event.denominator,
        event.client_count,
        unique=event.unique,
    )


def make_task(
    function: Data,
    data: Data = b"",
    *,
    unique: Data | None = None,
    priority: PriorityName = "normal",
    background: bool = False,
    epoch: float | datetime.datetime | None = None,
    on_update: Callable[[Update], None] | None = None,
) -> TaskState:
    """A new :class:`TaskState` for a submit (an epoch job is always background).

    A background job without a unique id gets a generated one (a UUID, as libgearman
    does): persistent queues key rows by (unique, function), so jobs with an empty
    unique would overwrite each other there and be lost on a restart. Such a job is
    still spread round robin, as if it had none.
    """
    function_b, data_b = to_bytes(function, "function"), to_bytes(data, "data")
    unique_b = key = to_bytes(unique, "unique")
    if not unique_b and (background or epoch is not None):
        unique_b = str(uuid.uuid4()).encode()
    request: gearproto.SubmitJob | gearproto.SubmitJobEpoch
    if epoch is not None:
        request = gearproto.SubmitJobEpoch(
            function=function_b, unique=unique_b, epoch=epoch_seconds(epoch), data=data_b
        )
    else:
        request = gearproto.SubmitJob(
            function=function_b,
            unique=unique_b,
            data=data_b,
            priority=to_priority(priority),
            background=background,
        )
    state = TaskState(request, key)
    state.on_update = on_update
    return state

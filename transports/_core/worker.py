"""The worker side of one connection, without I/O: registration, grab/sleep, results.

A :class:`WorkerSession` decides what to send: CAN_DO for every function on connect,
GRAB_JOB_ALL (or GRAB_JOB once a server refuses it) whenever a slot of the shared
:class:`Capacity` is free, PRE_SLEEP after NO_JOB, another GRAB after NOOP, and the
WORK_* packet that ends each job. A slot is taken *before* a GRAB is sent and given
back on NO_JOB or when the job ends, so a worker never holds more jobs than it can run.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import gearproto

from .._errors import JobFailed
from .convert import result_bytes
from .servers import Address

__all__ = ("Capacity", "Function", "JobInfo", "WorkerSession", "outcome")

log = logging.getLogger("transports.worker")

#: Seconds between reconnection attempts: the first, and the longest.
RECONNECT_MIN = 0.1
RECONNECT_MAX = 10.0

_GRABS = (gearproto.GrabJob, gearproto.GrabJobUniq, gearproto.GrabJobAll)


class Capacity:
    """How many more jobs the worker may take, shared by all its connections."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("concurrency must be at least 1")
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        """Slots taken (outstanding grabs plus running jobs)."""
        return self._used

    def take(self) -> bool:
        """Take a slot if one is free."""
        with self._lock:
            if self._used >= self.limit:
                return False
            self._used += 1
            return True

    def release(self) -> None:
        """Give a slot back."""
        with self._lock:
            self._used -= 1


@dataclass(frozen=True)
class Function:
    """A registered function: its name and optional CAN_DO_TIMEOUT in seconds."""

    name: bytes
    timeout: float | None = None

    def can_do(self) -> gearproto.Event:
        """CAN_DO, or CAN_DO_TIMEOUT when a timeout is set."""
        if self.timeout:
            return gearproto.CanDoTimeout(function=self.name, timeout=round(self.timeout * 1000))
        return gearproto.CanDo(function=self.name)


@dataclass(frozen=True)
class JobInfo:
    """What the server told the worker about a job.

    Attributes:
        handle: The job handle.
        function: The function name.
        data: The workload.
        unique: The unique id (``b""`` when the server did not send it).
        reducer: The reducer of a map/reduce job, or ``b""``.
    """

    handle: bytes
    function: bytes
    data: bytes
    unique: bytes = b""
    reducer: bytes = b""


def outcome(
    handle: bytes,
    result: object = None,
    error: BaseException | None = None,
    *,
    failed: bool = False,
    exceptions: bool = True,
) -> gearproto.Event:
    """The packet that ends a job: WORK_COMPLETE, WORK_FAIL or WORK_EXCEPTION.

    A raised :class:`~transports.JobFailed` (or ``failed``) becomes WORK_FAIL; any other
    exception becomes WORK_EXCEPTION with ``"<Type>: <message>"`` (the server turns it
    into WORK_FAIL for clients that did not ask for exceptions), or WORK_FAIL when
    ``exceptions`` is off.
    """
    if error is None and not failed:
        try:
            return gearproto.WorkComplete(handle=handle, data=result_bytes(result))
        except TypeError as exc:
            error = exc
    if failed or isinstance(error, JobFailed) or not exceptions:
        return gearproto.WorkFail(handle=handle)
    assert error is not None
    text = f"{type(error).__name__}: {error}"
    return gearproto.WorkException(handle=handle, data=text.encode("utf-8", "replace"))


class WorkerSession:
    """One worker connection's protocol state. Not thread-safe: the flavour locks."""

    def __init__(
        self,
        address: Address,
        functions: list[Function],
        capacity: Capacity,
        *,
        client_id: bytes = b"",
        grab_all: bool = True,
        max_packet_size: int = gearproto.DEFAULT_MAX_PACKET_SIZE,
    ) -> None:
        self.address = address
        self.conn = gearproto.Connection(gearproto.WORKER, max_packet_size=max_packet_size)
        self._functions = functions
        self._capacity = capacity
        self._client_id = client_id
        self._grab: gearproto.Event = gearproto.GrabJobAll() if grab_all else gearproto.GrabJob()
        self._reserved = False
        #: Set by the flavour when no more jobs should be grabbed.
        self.stopping = False
        self.closed = False
        #: A slot was given back (NO_JOB, ERROR): the flavour should let the worker's
        #: other idle connections grab, then clear this.
        self.released = False

    @property
    def sleeping(self) -> bool:
        """PRE_SLEEP was sent and no NOOP has come yet."""
        return self.conn.worker_state is gearproto.WorkerState.SLEEPING

    @property
    def jobs(self) -> frozenset[bytes]:
        """Handles of the jobs this connection holds."""
        return self.conn.jobs

    def handshake(self) -> bytes:
        """Client id and CAN_DOs for a new connection, then the first GRAB."""
        out = b""
        if self._client_id:
            out += self.conn.send(gearproto.SetClientId(client_id=self._client_id))
        for function in self._functions:
            out += self.conn.send(function.can_do())
        return out + self.grab()

    def register(self, function: Function) -> bytes:
        """CAN_DO for a function added while connected (and a GRAB if asleep).

        Jobs of the new function may already be queued, and a server wakes sleeping
        workers only when a job is queued: a sleeping connection asks at once.
        """
        self._functions.append(function)
        out = self.conn.send(function.can_do())
        if self.sleeping:
            out += self.poll()
        return out

    def grab(self) -> bytes:
        """A GRAB if the connection is idle and a slot is free; else nothing."""
        if self.stopping or self.closed or self._reserved:
            return b""
        if self.conn.worker_state is not gearproto.WorkerState.IDLE:
            return b""
        if not self._capacity.take():
            return b""
        self._reserved = True
        return self.conn.send(self._grab)

    def poll_interval(self, interval: float | None) -> float | None:
        """How often to :meth:`poll`: ``interval``, or the shortest CAN_DO_TIMEOUT if shorter.

        A connection holding a job of a function with a timeout stays awake (see
        :meth:`receive`), so no NOOP comes when the server takes a timed-out job back
        and queues it again: the worker must grab on its own, as often as the timeout.
        """
        timeouts = [f.timeout for f in self._functions if f.timeout]
        if not timeouts:
            return interval
        return min(timeouts) if interval is None else min(interval, *timeouts)

    def poll(self) -> bytes:
        """GRAB even without a NOOP (gearmand 1.1 sends none when an epoch job falls due)."""
        if self.stopping or self.closed or self._reserved:
            return b""
        if self.conn.worker_state is gearproto.WorkerState.GRABBING:
            return b""
        if not self._capacity.take():
            return b""
        self._reserved = True
        return self.conn.send(self._grab)

    def receive(self, data: bytes) -> tuple[bytes, list[JobInfo]]:
        """Feed bytes from the socket; returns what to send and the jobs to start.

        Raises :class:`gearproto.ProtocolError` on garbage; at end of stream, returns
        with :attr:`closed` set.
        """
        self.conn.receive_data(data)
        out = b""
        jobs: list[JobInfo] = []
        while True:
            event = self.conn.next_event()
            if event is gearproto.NEED_DATA:
                break
            kind = type(event)
            if kind is gearproto.JobAssign:
                assert isinstance(event, gearproto.JobAssign)
                self._reserved = False
                jobs.append(
                    JobInfo(
                        event.handle,
                        event.function,
                        event.data,
                        event.unique or b"",
                        event.reducer or b"",
                    )
                )
                out += self.grab()
            elif kind is gearproto.NoJob:
                self._release()
                if self.conn.jobs and any(f.timeout for f in self._functions):
                    # gearmand drops a connection's CAN_DO_TIMEOUT timer on PRE_SLEEP:
                    # stay awake while holding jobs; grab again when one ends or on poll.
                    continue
                out += self.conn.send(gearproto.PreSleep())
            elif kind is gearproto.Noop:
                out += self.grab()
            elif kind is gearproto.Error:
                assert isinstance(event, gearproto.Error)
                if isinstance(event.request, _GRABS):
                    self._release()
                    if not isinstance(self._grab, gearproto.GrabJob):
                        log.info("%s refused %r; using GRAB_JOB", self.address, self._grab)
                        self._grab = gearproto.GrabJob()
                        out += self.grab()
                else:
                    log.warning("job server %s: %s %s", self.address, event.code, event.text)
            elif kind is gearproto.ConnectionClosed:
                self.lost()
                break
        return out, jobs

    def _release(self) -> None:
        if self._reserved:
            self._reserved = False
            self._capacity.release()
            self.released = True

    def finish(self, event: gearproto.Event) -> bytes:
        """The bytes of a job's final packet; ``b""`` if the connection no longer holds it."""
        handle = event.handle  # type: ignore[attr-defined]
        if self.closed or handle not in self.conn.jobs:
            return b""
        return self.conn.send(event)

    def update(self, event: gearproto.Event) -> bytes:
        """The bytes of a WORK_DATA/WARNING/STATUS; ``b""`` if the job is no longer held."""
        return self.finish(event)

    def lost(self) -> None:
        """The connection is gone: give back the slot of an unanswered GRAB."""
        self.closed = True
        self._release()

"""The scheduler: gearmand 2.0's job semantics as a pure, synchronous state machine.

It knows nothing of sockets, tasks or clocks. The shell tells it about connections
(:meth:`Scheduler.connect`, :meth:`Scheduler.disconnect`) and hands it every event
gearproto decodes (:meth:`Scheduler.handle`); each call returns the events to send, as
``(connection id, event)`` pairs in the order they must be sent. Time comes from the
injected ``clock``; :meth:`Scheduler.next_deadline` and :meth:`Scheduler.tick` drive the
CAN_DO_TIMEOUT and epoch timers.

Its parts: the shared tables and a job's life (:mod:`server._jobs`), job intake and
coalescing (:mod:`server._intake`), dispatch to workers (:mod:`server._dispatch`),
results (:mod:`server._results`), status queries and small requests
(:mod:`server._queries`) and timers (:mod:`server._timers`).

Every operation is O(1) in the number of functions, jobs and workers, except where a
worker's own registrations are walked (PRE_SLEEP, CANT_DO, disconnect) and the grab of
a worker whose functions are all busy, which walks whichever is smaller: its
registrations or the functions that have runnable jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gearproto import (
    NEED_DATA,
    AdminCommand,
    AllYours,
    CanDo,
    CanDoTimeout,
    CantDo,
    ConnectionClosed,
    EchoReq,
    Event,
    GetStatus,
    GetStatusUnique,
    GrabJob,
    GrabJobAll,
    GrabJobUniq,
    OptionReq,
    PreSleep,
    ResetAbilities,
    SetClientId,
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

from ._dispatch import Dispatch
from ._intake import Intake
from ._jobs import CloseConnection, Output
from ._model import Peer
from ._queries import Queries
from ._results import MAX_HANDLE, Results
from ._store import Store, StoreError
from ._timers import Timers

log = logging.getLogger(__name__)

__all__ = ("CloseConnection", "Output", "Scheduler")


class Scheduler(Intake, Dispatch, Results, Queries, Timers):
    """Functions, queues, jobs and workers, driven by gearproto events.

    :param clock: Returns the current Unix time in seconds (``time.time`` in a server).
    :param store: Where background jobs are persisted (:class:`~server.Store` keeps nothing).
    :param handle_prefix: Job handles are ``<prefix>:<n>``; gearmand uses ``H:<hostname>``.
    :param job_retries: How many times a job may lose its worker before it is dropped
        with WORK_FAIL: -1 = unlimited (the default), 0 = drop on the first loss.
    :param worker_wakeup: NOOPs sent per queued job (0 = wake every sleeping worker).
    :param exceptions: Turn the ``exceptions`` option on for every connection.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        store: Store | None = None,
        handle_prefix: bytes = b"H:localhost",
        job_retries: int = -1,
        worker_wakeup: int = 0,
        exceptions: bool = False,
    ) -> None:
        if len(handle_prefix) + 11 > MAX_HANDLE or b"\0" in handle_prefix:
            raise ValueError(f"job handle prefix too long or not printable: {handle_prefix!r}")
        if job_retries < -1:
            raise ValueError("job_retries must be -1 (unlimited) or more")
        self.clock = clock
        self.store = store if store is not None else Store()
        self._persistent = self.store.persistent
        self.handle_prefix = handle_prefix + b":"
        self.job_retries = job_retries
        self.worker_wakeup = worker_wakeup
        self.exceptions = exceptions
        self.functions = {}
        self.jobs = {}
        self.peers = {}
        self._by_unique = {}
        self._ready = ({}, {}, {})
        self._future = []
        self._many_sleepers = {}
        self._timers = []
        self._counter = 0
        self._seq = 0
        self._out = []
        self._uncommitted = []
        self._handlers: dict[type[Event], Callable[[Peer, Event], None]] = {
            SubmitJob: self._submit,  # type: ignore[dict-item]
            GrabJob: self._grab,
            GrabJobUniq: self._grab,
            GrabJobAll: self._grab,
            PreSleep: self._pre_sleep,
            WorkData: self._work_data,  # type: ignore[dict-item]
            WorkWarning: self._work_data,  # type: ignore[dict-item]
            WorkStatus: self._work_status,  # type: ignore[dict-item]
            WorkComplete: self._work_end,  # type: ignore[dict-item]
            WorkFail: self._work_end,  # type: ignore[dict-item]
            WorkException: self._work_end,  # type: ignore[dict-item]
            CanDo: self._can_do,  # type: ignore[dict-item]
            CanDoTimeout: self._can_do,  # type: ignore[dict-item]
            CantDo: self._cant_do,  # type: ignore[dict-item]
            ResetAbilities: self._reset_abilities,
            SubmitJobEpoch: self._submit_epoch,  # type: ignore[dict-item]
            SubmitReduceJob: self._submit_reduce,  # type: ignore[dict-item]
            GetStatus: self._get_status,  # type: ignore[dict-item]
            GetStatusUnique: self._get_status_unique,  # type: ignore[dict-item]
            EchoReq: self._echo,  # type: ignore[dict-item]
            OptionReq: self._option,  # type: ignore[dict-item]
            SetClientId: self._set_client_id,  # type: ignore[dict-item]
            AllYours: self._invalid,
            Unused: self._invalid,
            SubmitJobSched: self._invalid,
        }
        #: Answers admin commands; set by the shell (see :mod:`server._admin`).
        self.admin: Callable[[Scheduler, Peer, AdminCommand], Event] | None = None

    # ------------------------------------------------------------------ connections

    def connect(self, cid: int, *, fd: int = -1, address: bytes = b"-") -> None:
        """A new connection ``cid`` (``fd`` and ``address`` are shown by ``workers``)."""
        self.peers[cid] = Peer(cid, fd, address, self.exceptions)

    def disconnect(self, cid: int) -> Output:
        """Connection ``cid`` is gone: requeue its jobs and abandon its waiting jobs."""
        peer = self.peers.pop(cid, None)
        if peer is None:
            return []
        attached = peer.attached
        peer.attached = {}
        for job, count in attached.items():
            clients = job.clients
            for _ in range(count):
                clients.remove(peer)
            if not clients and not job.background:
                self._abandon(job)
        self._many_sleepers.pop(peer, None)
        self._unregister(peer, list(peer.order))
        for job in list(peer.jobs.values()):
            self._requeue(job)
        return self._flush()

    def handle_events(self, cid: int, next_event: Callable[[], object]) -> tuple[Output, bool]:
        """Process every event ``next_event`` returns until it has no more.

        ``next_event`` is a :class:`gearproto.Connection`'s ``next_event``; this is
        :meth:`handle` for a whole read at once, with one output list for all of it.
        Returns what to send and whether the connection reached its end
        (:class:`~gearproto.ConnectionClosed`). If an exception escapes (from
        ``next_event`` or :class:`CloseConnection`), what the events before it produced
        is left for :meth:`take_output`.

        :raises CloseConnection: gearmand would close this connection without a reply.
        """
        peer = self.peers[cid]
        handlers = self._handlers
        closed = False
        while True:
            event = next_event()
            if event is NEED_DATA:
                break
            kind = type(event)
            handler = handlers.get(kind)  # type: ignore[arg-type]
            if handler is not None:
                handler(peer, event)  # type: ignore[arg-type]
            elif kind is ConnectionClosed:
                closed = True
                break
            elif kind is AdminCommand:
                self._admin(peer, event)  # type: ignore[arg-type]
            else:
                raise KeyError(f"no handler for {kind.__name__}")
        return self._flush(), closed

    def commit(self) -> frozenset[bytes]:
        """Make the store durable; call it after each batch, before its output is sent.

        If the store fails, the background jobs created since the last commit are not
        durable: they are dropped (with their attached clients, silently) and their
        handles returned, so the shell can turn every JOB_CREATED that announces them
        into ``ERROR QUEUE_ERROR``, the answer to a job the queue refused.
        """
        jobs, self._uncommitted = self._uncommitted, []
        if not self._persistent:
            return frozenset()
        try:
            self.store.commit()
        except StoreError as exc:
            lost = [job for job in jobs if job.persisted and self.jobs.get(job.handle) is job]
            log.error(
                "persistent queue commit failed; %d new jobs refused with QUEUE_ERROR: %s",
                len(lost),
                exc,
            )
            for job in lost:
                job.persisted = False  # the commit took its row back
                self._drop(job)
            return frozenset(job.handle for job in lost)
        return frozenset()

    def _admin(self, peer: Peer, event: AdminCommand) -> None:
        assert self.admin is not None, "no admin handler installed"
        self._out.append((peer.cid, self.admin(self, peer, event)))

    def handle(self, cid: int, event: Event) -> Output:
        """Process one event from connection ``cid``; return what to send.

        :raises CloseConnection: gearmand would close this connection without a reply.
        """
        peer = self.peers[cid]
        kind = type(event)
        if kind is AdminCommand:
            self._admin(peer, event)  # type: ignore[arg-type]
        else:
            self._handlers[kind](peer, event)
        return self._flush()

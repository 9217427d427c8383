"""The scheduler: gearmand 2.0's job semantics as a pure, synchronous state machine.

It knows nothing of sockets, tasks or clocks. The shell tells it about connections
(:meth:`Scheduler.connect`, :meth:`Scheduler.disconnect`) and hands it every event
gearproto decodes (:meth:`Scheduler.handle`); each call returns the events to send, as
``(connection id, event)`` pairs in the order they must be sent. Time comes from the
injected ``clock``; :meth:`Scheduler.next_deadline` and :meth:`Scheduler.tick` drive the
CAN_DO_TIMEOUT and epoch timers.

Every operation is O(1) in the number of functions, jobs and workers, except where a
worker's own registrations are walked (PRE_SLEEP, CANT_DO, disconnect) and the grab of
a worker whose functions are all busy, which walks whichever is smaller: its
registrations or the functions that have runnable jobs.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterator
from typing import Final

from gearproto import (
    AdminCommand,
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

from ._model import DONE, FUTURE, IGNORED, QUEUED, RUNNING, Function, Job, Peer
from ._store import Store, StoredJob, StoreError

__all__ = ("CloseConnection", "Output", "Scheduler")

log = logging.getLogger(__name__)

Output = list[tuple[int, Event]]
"""What to send: ``(connection id, event)`` pairs, in order."""

_PRIORITY: Final = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}
_UINT32: Final = 2**32
#: Longest unique accepted (gearmand accepts 64 but mangles it; we keep all 64).
MAX_UNIQUE: Final = 64
MAX_HANDLE: Final = 63
MAX_CLIENT_ID: Final = 127

_INVALID_COMMAND: Final = Error(code=b"INVALID_COMMAND", text=b"Command not expected")
_UNIQUE_TOO_LARGE: Final = Error(code=b"ARGUMENT_TOO_LARGE", text=b"Unique value too large")
_QUEUE_FULL: Final = Error(code=b"QUEUE_ERROR", text=b"Job queue is full")
_UNKNOWN_OPTION: Final = Error(
    code=b"UNKNOWN_OPTION", text=b"Server does not recognize given option"
)
_NOT_FOUND_DATA: Final = Error(code=b"JOB_NOT_FOUND", text=b"Job does not exist on server")
_NOT_FOUND_RESULT: Final = Error(code=b"JOB_NOT_FOUND", text=b"Job given in work result not found")
_NOT_FOUND_EXCEPTION: Final = Error(
    code=b"JOB_NOT_FOUND", text=b"An exception was received for a job that does not exist"
)
_HANDLE_TOO_LARGE: Final = Error(
    code=b"ARGUMENT_TOO_LARGE",
    text=b"Error occurred due to GEARMAND_JOB_HANDLE_SIZE being too small from snprintf",
)
_NOOP: Final = Noop()
#: A sleeping worker with more functions than this is not added to each function's
#: list of sleepers (PRE_SLEEP stays O(1)); wake-ups scan these few workers instead.
_MANY: Final = 32
_NO_JOB: Final = NoJob()


class CloseConnection(Exception):
    """The peer did something gearmand answers by closing the connection; the message says what."""


class Scheduler:
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
        self.functions: dict[bytes, Function] = {}
        self.jobs: dict[bytes, Job] = {}
        self.peers: dict[int, Peer] = {}
        self._by_unique: dict[bytes, list[Job]] = {}
        #: Per priority: the functions with runnable jobs (an ordered set).
        self._ready: tuple[dict[Function, None], ...] = ({}, {}, {})
        self._future: list[tuple[float, int, Job]] = []
        #: Sleeping workers with many functions (not put in each function's sleepers).
        self._many_sleepers: dict[Peer, None] = {}
        self._timers: list[tuple[float, int, Job]] = []
        self._counter = 0
        self._seq = 0
        self._out: Output = []
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

    def handle(self, cid: int, event: Event) -> Output:
        """Process one event from connection ``cid``; return what to send.

        :raises CloseConnection: gearmand would close this connection without a reply.
        """
        peer = self.peers[cid]
        kind = type(event)
        if kind is AdminCommand:
            assert self.admin is not None, "no admin handler installed"
            self._out.append((cid, self.admin(self, peer, event)))  # type: ignore[arg-type]
        else:
            self._handlers[kind](peer, event)
        return self._flush()

    def _flush(self) -> Output:
        out = self._out
        if out:
            self._out = []
        return out

    @property
    def job_count(self) -> int:
        """Jobs held (queued, scheduled or running)."""
        return len(self.jobs)

    # ------------------------------------------------------------------ functions

    def function(self, name: bytes) -> Function:
        """The function called ``name``, created on first use (as gearmand does)."""
        f = self.functions.get(name)
        if f is None:
            f = self.functions[name] = Function(name)
        return f

    def drop_function(self, f: Function) -> None:
        """Forget a function that has no workers and no jobs."""
        del self.functions[f.name]

    # ------------------------------------------------------------------ submits

    def _new_handle(self) -> bytes:
        self._counter += 1
        return self.handle_prefix + b"%d" % self._counter

    def _find_existing(self, f: Function, unique: bytes, data: bytes) -> Job | None:
        if not unique:
            return None
        if unique == b"-":
            return f.by_data.get(data) if data else None
        return f.uniques.get(unique)

    def _submit(self, peer: Peer, e: SubmitJob) -> None:
        self._add(peer, e.function, e.unique, e.data, _PRIORITY[e.priority], e.background)

    def _submit_epoch(self, peer: Peer, e: SubmitJobEpoch) -> None:
        self._add(peer, e.function, e.unique, e.data, 1, True, when=e.epoch)

    def _submit_reduce(self, peer: Peer, e: SubmitReduceJob) -> None:
        self._add(peer, e.function, e.unique, e.data, 1, e.background, reducer=e.reducer)

    def _add(
        self,
        peer: Peer | None,
        name: bytes,
        unique: bytes,
        data: bytes,
        prio: int,
        background: bool,
        when: int = 0,
        reducer: bytes = b"",
        replay: bool = False,
    ) -> Job | None:
        out = self._out
        if len(unique) > MAX_UNIQUE:
            if peer is not None:
                out.append((peer.cid, _UNIQUE_TOO_LARGE))
            return None
        f = self.functions.get(name) or self.function(name)
        job = self._find_existing(f, unique, data)
        if job is not None:
            if peer is not None:
                if not background:
                    job.clients.append(peer)
                    peer.attached[job] = peer.attached.get(job, 0) + 1
                out.append((peer.cid, JobCreated(handle=job.handle)))
            return job
        limit = f.max_queue[prio]
        if limit and f.total >= limit:
            if peer is not None:
                out.append((peer.cid, _QUEUE_FULL))
            return None
        persist = background and self._persistent
        if persist and not replay:
            try:
                self.store.add(StoredJob(unique, name, prio, data, when))
            except StoreError as exc:
                log.error("persistent queue refused job %r/%r: %s", name, unique, exc)
                if peer is not None:
                    out.append((peer.cid, Error(code=b"QUEUE_ERROR", text=b"QUEUE_ERROR")))
                return None
        job = Job(self._new_handle(), f, unique, data, prio, background, when, reducer)
        job.persisted = persist
        self.jobs[job.handle] = job
        if unique:
            if unique == b"-":
                if data:
                    f.by_data[data] = job
            else:
                f.uniques[unique] = job
            same = self._by_unique.get(unique)
            if same is None:
                self._by_unique[unique] = [job]
            else:
                same.append(job)
        f.total += 1
        if peer is not None:
            if not background:
                job.clients.append(peer)
                peer.attached[job] = peer.attached.get(job, 0) + 1
            out.append((peer.cid, JobCreated(handle=job.handle)))
        if when and when > self.clock():
            job.state = FUTURE
            f.future[prio] += 1
            self._seq += 1
            heapq.heappush(self._future, (when, self._seq, job))
        else:
            self._enqueue(job)
        return job

    def replay(self) -> int:
        """Load the persistent queue (at start, before listening); return the job count."""
        n = 0
        for row in self.store.load():
            prio = row.priority if row.priority in (0, 1, 2) else 1
            if self._add(
                None, row.function, row.unique, row.data, prio, True, row.when, replay=True
            ):
                n += 1
        return n

    def stored_jobs(self) -> Iterator[StoredJob]:
        """Every background job still held, for a store-on-shutdown dump."""
        for job in self.jobs.values():
            if job.persisted and not job.ignored:
                yield StoredJob(job.unique, job.function.name, job.priority, job.data, job.when)

    # ------------------------------------------------------------------ queueing

    def _enqueue(self, job: Job) -> None:
        """Append ``job`` to the tail of its queue and wake sleeping workers."""
        f = job.function
        p = job.priority
        job.state = QUEUED
        f.queues[p].append(job)
        f.live[p] += 1
        if f.live[p] == 1:
            self._ready[p][f] = None
        if f.sleepers or self._many_sleepers:
            self._wake(f)

    def _wake(self, f: Function) -> None:
        sleepers = f.sleepers
        many = self._many_sleepers
        budget = self.worker_wakeup or len(sleepers) + len(many)
        out = self._out
        while sleepers and budget:
            peer = next(iter(sleepers))
            del sleepers[peer]
            if peer.sleeping and not peer.noop_sent:
                peer.noop_sent = True
                out.append((peer.cid, _NOOP))
                budget -= 1
        if many and budget:
            for peer in list(many):
                if not (peer.sleeping and not peer.noop_sent):
                    del many[peer]
                elif f in peer.order:
                    del many[peer]
                    peer.noop_sent = True
                    out.append((peer.cid, _NOOP))
                    budget -= 1
                    if not budget:
                        break

    def _release_due(self) -> None:
        future = self._future
        if not future:
            return
        now = self.clock()
        while future and future[0][0] <= now:
            job = heapq.heappop(future)[2]
            if job.state == FUTURE:
                job.function.future[job.priority] -= 1
                self._enqueue(job)

    def _abandon(self, job: Job) -> None:
        """The last client of a foreground job left."""
        if job.state == QUEUED:
            f = job.function
            p = job.priority
            job.state = IGNORED
            f.live[p] -= 1
            if not f.live[p]:
                del self._ready[p][f]
                f.queues[p].clear()
            self._forget(job)
        elif job.state == RUNNING:
            job.ignored = True
            self._unindex(job)

    def _unindex(self, job: Job) -> None:
        unique = job.unique
        if not unique:
            return
        f = job.function
        if unique == b"-":
            if f.by_data.get(job.data) is job:
                del f.by_data[job.data]
        elif f.uniques.get(unique) is job:
            del f.uniques[unique]
        same = self._by_unique.get(unique)
        if same is not None:
            try:
                same.remove(job)
            except ValueError:
                pass
            if not same:
                del self._by_unique[unique]

    def _forget(self, job: Job) -> None:
        """Remove a job that is not queued and not running from every index."""
        self._unindex(job)
        del self.jobs[job.handle]
        job.function.total -= 1
        if job.persisted and not job.ignored:
            self.store.remove(job.unique, job.function.name)
        job.persisted = False
        if job.state != IGNORED:
            job.state = DONE
        for peer in set(job.clients):
            peer.attached.pop(job, None)
        job.clients = []

    def _finish(self, job: Job) -> None:
        """A running job ended (completed, failed, dropped)."""
        worker = job.worker
        if worker is not None:
            worker.jobs.pop(job.handle, None)
            job.worker = None
        job.function.running -= 1
        job.timer = 0
        job.state = DONE
        self._forget(job)

    def _requeue(self, job: Job) -> None:
        """The worker running ``job`` is gone, gave it up or timed out."""
        worker = job.worker
        if worker is not None:
            worker.jobs.pop(job.handle, None)
            job.worker = None
        job.function.running -= 1
        job.timer = 0
        job.retries += 1
        limit = self.job_retries
        if job.ignored:
            job.state = DONE
            self._forget(job)
            return
        if limit >= 0 and job.retries >= max(limit, 1):
            log.warning(
                "Dropped job %s due to max retry count (%d)", job.handle.decode(), job.retries
            )
            fail = WorkFail(handle=job.handle)
            self._out.extend((c.cid, fail) for c in reversed(job.clients))
            job.state = DONE
            self._forget(job)
            return
        job.numerator = job.denominator = 0
        self._enqueue(job)

    # ------------------------------------------------------------------ workers

    def _can_do(self, peer: Peer, e: CanDo | CanDoTimeout) -> None:
        f = self.function(e.function)
        if f not in peer.order:
            self._seq += 1
            peer.order[f] = self._seq
        count = f.workers.get(peer, 0)
        f.workers[peer] = count + 1
        f.worker_count += 1
        if type(e) is CanDoTimeout:
            timeout = e.timeout
            if timeout > 0:
                peer.timeouts[f] = max(timeout, 1000) / 1000
            else:
                peer.timeouts.pop(f, None)
        if peer.sleeping and not peer.noop_sent and peer not in self._many_sleepers:
            f.sleepers[peer] = None

    def _cant_do(self, peer: Peer, e: CantDo) -> None:
        f = self.functions.get(e.function)
        if f is not None and f in peer.order:
            self._unregister(peer, [f])

    def _reset_abilities(self, peer: Peer, e: Event) -> None:
        self._unregister(peer, list(peer.order))

    def _unregister(self, peer: Peer, functions: list[Function]) -> None:
        for f in functions:
            del peer.order[f]
            peer.timeouts.pop(f, None)
            f.worker_count -= f.workers.pop(peer, 0)
            f.sleepers.pop(peer, None)
        if peer.jobs:
            gone = set(functions)
            for job in [j for j in peer.jobs.values() if j.function in gone]:
                self._requeue(job)

    def _find(self, peer: Peer) -> tuple[Function, int] | None:
        """The function and priority of the next job for ``peer`` (2.0: global priority)."""
        order = peer.order
        if not order:
            return None
        self._release_due()
        for p in (0, 1, 2):
            ready = self._ready[p]
            if not ready:
                continue
            if len(ready) < len(order):
                best: Function | None = None
                best_seq = 0
                for f in ready:
                    seq = order.get(f)
                    if seq is not None and (best is None or seq < best_seq):
                        best, best_seq = f, seq
                if best is not None:
                    return best, p
            else:
                for f in order:
                    if f in ready:
                        return f, p
        return None

    def _grab(self, peer: Peer, e: Event) -> None:
        if peer.sleeping:
            peer.sleeping = False
        peer.noop_sent = False
        found = self._find(peer)
        if found is None:
            self._out.append((peer.cid, _NO_JOB))
            return
        f, p = found
        queue = f.queues[p]
        job = queue.popleft()
        while job.state != QUEUED:
            job = queue.popleft()
        f.live[p] -= 1
        if not f.live[p]:
            del self._ready[p][f]
            queue.clear()
        order = peer.order
        del order[f]
        self._seq += 1
        order[f] = self._seq
        job.state = RUNNING
        job.worker = peer
        peer.jobs[job.handle] = job
        f.running += 1
        timeout = peer.timeouts.get(f)
        if timeout:
            self._seq += 1
            job.timer = self._seq
            heapq.heappush(self._timers, (self.clock() + timeout, self._seq, job))
        kind = type(e)
        if kind is GrabJob:
            assign = JobAssign(handle=job.handle, function=f.name, data=job.data)
        elif kind is GrabJobAll and job.reducer:
            assign = JobAssign(
                handle=job.handle,
                function=f.name,
                data=job.data,
                unique=job.unique,
                reducer=job.reducer,
            )
        else:
            assign = JobAssign(
                handle=job.handle, function=f.name, data=job.data, unique=job.unique
            )
        self._out.append((peer.cid, assign))

    def _pre_sleep(self, peer: Peer, e: Event) -> None:
        if self._find(peer) is not None:
            self._out.append((peer.cid, _NOOP))
            return
        peer.sleeping = True
        peer.noop_sent = False
        if len(peer.order) > _MANY:
            self._many_sleepers[peer] = None
        else:
            for f in peer.order:
                f.sleepers[peer] = None

    # ------------------------------------------------------------------ results

    def _work_data(self, peer: Peer, e: WorkData | WorkWarning) -> None:
        job = peer.jobs.get(e.handle)
        if job is None:
            self._out.append((peer.cid, _NOT_FOUND_DATA))
            return
        if job.clients:
            self._out.extend((c.cid, e) for c in reversed(job.clients))

    def _work_status(self, peer: Peer, e: WorkStatus) -> None:
        job = peer.jobs.get(e.handle)
        if job is None:
            self._out.append((peer.cid, _NOT_FOUND_RESULT))
            return
        num, den = e.numerator, e.denominator
        if not (0 <= num < _UINT32 and 0 <= den < _UINT32):
            num %= _UINT32
            den %= _UINT32
            e = WorkStatus(handle=e.handle, numerator=num, denominator=den)
        job.numerator = num
        job.denominator = den
        if job.clients:
            self._out.extend((c.cid, e) for c in reversed(job.clients))

    def _work_end(self, peer: Peer, e: WorkComplete | WorkFail | WorkException) -> None:
        job = peer.jobs.get(e.handle)
        if job is None:
            kind = type(e)
            if kind is WorkFail and e.handle == peer.last_exception:
                peer.last_exception = b""
                return
            if kind is WorkException:
                error = _NOT_FOUND_EXCEPTION
            elif kind is WorkFail and len(e.handle) > MAX_HANDLE:
                error = _HANDLE_TOO_LARGE
            else:
                error = _NOT_FOUND_RESULT
            self._out.append((peer.cid, error))
            return
        if type(e) is WorkException:
            peer.last_exception = e.handle
        if job.clients:
            if type(e) is WorkException:
                fail = WorkFail(handle=job.handle)
                self._out.extend(
                    (c.cid, e if c.exceptions else fail) for c in reversed(job.clients)
                )
            else:
                self._out.extend((c.cid, e) for c in reversed(job.clients))
        self._finish(job)

    # ------------------------------------------------------------------ status, misc

    def _get_status(self, peer: Peer, e: GetStatus) -> None:
        handle = e.handle
        if len(handle) > MAX_HANDLE:
            raise CloseConnection(f"GET_STATUS handle of {len(handle)} bytes")
        handle = handle.partition(b"\0")[0]
        job = self.jobs.get(handle)
        if job is None or job.ignored:
            reply = StatusRes(handle=handle, known=False, running=False)
        else:
            reply = StatusRes(
                handle=handle,
                known=True,
                running=job.state == RUNNING,
                numerator=job.numerator,
                denominator=job.denominator,
            )
        self._out.append((peer.cid, reply))

    def _get_status_unique(self, peer: Peer, e: GetStatusUnique) -> None:
        unique = e.unique
        if len(unique) > MAX_UNIQUE:
            raise CloseConnection(f"GET_STATUS_UNIQUE unique of {len(unique)} bytes")
        unique = unique.partition(b"\0")[0]
        same = self._by_unique.get(unique)
        if not same:
            reply = StatusResUnique(unique=unique, known=False, running=False)
        else:
            job = same[0]
            reply = StatusResUnique(
                unique=unique,
                known=True,
                running=job.state == RUNNING,
                numerator=job.numerator,
                denominator=job.denominator,
                client_count=len(job.clients),
            )
        self._out.append((peer.cid, reply))

    def _echo(self, peer: Peer, e: EchoReq) -> None:
        self._out.append((peer.cid, EchoRes(data=e.data)))

    def _option(self, peer: Peer, e: OptionReq) -> None:
        if e.option.lower() == b"exceptions":
            peer.exceptions = True
            self._out.append((peer.cid, OptionRes(option=e.option)))
        else:
            self._out.append((peer.cid, _UNKNOWN_OPTION))

    def _set_client_id(self, peer: Peer, e: SetClientId) -> None:
        client_id = e.client_id[:MAX_CLIENT_ID].partition(b"\0")[0]
        peer.client_id = client_id.replace(b" ", b"_").replace(b"\n", b"_") or b"-"

    def _invalid(self, peer: Peer, e: Event) -> None:
        self._out.append((peer.cid, _INVALID_COMMAND))

    # ------------------------------------------------------------------ admin actions

    def cancel(self, handle: bytes) -> bool:
        """Admin ``cancel job``: WORK_FAIL to the clients, and the job is gone."""
        job = self.jobs.get(handle)
        if job is None or job.ignored:
            return False
        fail = WorkFail(handle=job.handle)
        self._out.extend((c.cid, fail) for c in reversed(job.clients))
        for c in job.clients:
            c.attached.pop(job, None)
        job.clients = []
        if job.persisted:
            self.store.remove(job.unique, job.function.name)
            job.persisted = False
        if job.state == RUNNING:
            job.ignored = True
            self._unindex(job)
        elif job.state == QUEUED:
            self._abandon(job)
        else:
            job.state = DONE
            job.function.future[job.priority] -= 1
            self._forget(job)
        return True

    def take_output(self) -> Output:
        """Events produced outside :meth:`handle` (admin ``cancel``)."""
        return self._flush()

    # ------------------------------------------------------------------ timers

    def next_deadline(self) -> float | None:
        """When :meth:`tick` next has something to do (clock time), or ``None``."""
        timers = self._timers
        while timers and not _live_timer(timers[0]):
            heapq.heappop(timers)
        best = timers[0][0] if timers else None
        if self._future:
            when = self._future[0][0]
            best = when if best is None or when < best else best
        return best

    def tick(self) -> Output:
        """Run what is due: epoch jobs become runnable, expired CAN_DO_TIMEOUTs requeue."""
        now = self.clock()
        self._release_due()
        timers = self._timers
        while timers and timers[0][0] <= now:
            entry = heapq.heappop(timers)
            if _live_timer(entry):
                job = entry[2]
                log.info("job %s timed out; requeued", job.handle.decode())
                self._requeue(job)
        return self._flush()


def _live_timer(entry: tuple[float, int, Job]) -> bool:
    job = entry[2]
    return job.timer == entry[1] and job.state == RUNNING

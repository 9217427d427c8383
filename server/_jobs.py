"""The scheduler's shared state and the life of a job: queued, woken for, requeued, gone.

:class:`JobBook` holds every table the scheduler keeps and the steps that move a job
between them; the scheduler's other parts (:mod:`server._intake`,
:mod:`server._dispatch`, :mod:`server._results`, :mod:`server._queries`,
:mod:`server._timers`) build on it, and :class:`~server.Scheduler` puts them together.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from typing import Final

from gearproto import Event, Noop, WorkFail

from ._model import DONE, FUTURE, IGNORED, NO_CLIENTS, QUEUED, RUNNING, Function, Job, Peer
from ._store import Store

__all__ = ("CloseConnection", "JobBook", "Output")

log = logging.getLogger(__name__)

Output = list[tuple[int, Event]]
"""What to send: ``(connection id, event)`` pairs, in order."""

_NOOP: Final = Noop()


class CloseConnection(Exception):
    """The peer did something gearmand answers by closing the connection; the message says what."""


class JobBook:
    """The scheduler's tables, and the moves of a job between them.

    Every attribute is set by :class:`~server.Scheduler`'s constructor.
    """

    clock: Callable[[], float]
    store: Store
    _persistent: bool
    handle_prefix: bytes
    job_retries: int
    worker_wakeup: int
    exceptions: bool
    functions: dict[bytes, Function]
    jobs: dict[bytes, Job]
    peers: dict[int, Peer]
    #: Jobs by unique across functions: the job, or a list when several share it.
    _by_unique: dict[bytes, Job | list[Job]]
    #: Per priority: the functions with runnable jobs (an ordered set).
    _ready: tuple[dict[Function, None], ...]
    _future: list[tuple[float, int, Job]]
    #: Sleeping workers with many functions (not put in each function's sleepers).
    _many_sleepers: dict[Peer, None]
    _timers: list[tuple[float, int, Job]]
    _counter: int
    _seq: int
    _out: Output
    #: Background jobs written to the store since its last commit.
    _uncommitted: list[Job]

    def _flush(self) -> Output:
        out = self._out
        if out:
            self._out = []
            return out
        return []  # never the list that collects the next output

    @property
    def job_count(self) -> int:
        """Jobs held (queued, scheduled or running)."""
        return len(self.jobs)

    @property
    def created(self) -> int:
        """Jobs created since start (the number in the newest handle)."""
        return self._counter

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

    # ------------------------------------------------------------------ endings

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
        if same is job:
            del self._by_unique[unique]
        elif type(same) is list:
            try:
                same.remove(job)
            except ValueError:
                pass
            if len(same) == 1:
                self._by_unique[unique] = same[0]
            elif not same:
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
        job.clients = NO_CLIENTS

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

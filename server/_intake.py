"""Job intake: SUBMIT_JOB*, unique coalescing, maxqueue, persistence, replay."""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterator
from typing import Final

from gearproto import (
    Error,
    JobCreated,
    Priority,
    SubmitJob,
    SubmitJobEpoch,
    SubmitReduceJob,
)

from ._jobs import JobBook
from ._model import FUTURE, Function, Job, Peer, attach
from ._store import StoredJob, StoreError

__all__ = ("MAX_UNIQUE", "Intake")

log = logging.getLogger(__name__)

_PRIORITY: Final = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}
#: Longest unique accepted (gearmand accepts 64 but mangles it; we keep all 64).
MAX_UNIQUE: Final = 64

_UNIQUE_TOO_LARGE: Final = Error(code=b"ARGUMENT_TOO_LARGE", text=b"Unique value too large")
_QUEUE_FULL: Final = Error(code=b"QUEUE_ERROR", text=b"Job queue is full")


class Intake(JobBook):
    """Accepts jobs from clients and from the persistent queue."""

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
        prio = _PRIORITY[e.priority]
        f = self.functions.get(e.function)
        background = e.background
        if (
            e.unique
            or f is None
            or f.max_queue[prio]
            or (background and self._persistent)
            or (f.sleepers or self._many_sleepers)
        ):
            self._add(peer, e.function, e.unique, e.data, prio, background)
            return
        # The common case, inlined: no coalescing, no limit, nothing to persist or wake.
        # This is _add() + queueing for that case; change them together.
        self._counter += 1
        handle = self.handle_prefix + b"%d" % self._counter
        job = Job(handle, f, b"", e.data, prio, background)
        self.jobs[handle] = job
        f.total += 1
        if not background:
            job.clients = [peer]  # a new job
            attached = peer.attached
            attached[job] = attached.get(job, 0) + 1
        self._out.append((peer.cid, JobCreated(handle=handle)))
        f.queues[prio].append(job)
        live = f.live
        live[prio] += 1
        if live[prio] == 1:
            self._ready[prio][f] = None

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
                    attach(job, peer)
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
        if persist and not replay:
            self._uncommitted.append(job)
        self.jobs[job.handle] = job
        if unique:
            if unique == b"-":
                if data:
                    f.by_data[data] = job
            else:
                f.uniques[unique] = job
            same = self._by_unique.get(unique)
            if same is None:
                self._by_unique[unique] = job
            elif type(same) is list:
                same.append(job)
            else:
                self._by_unique[unique] = [same, job]  # type: ignore[list-item]
        f.total += 1
        if peer is not None:
            if not background:
                job.clients = [peer]  # a new job
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

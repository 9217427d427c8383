"""Dispatch to workers: CAN_DO registrations, GRAB_JOB, PRE_SLEEP/NOOP, round robin.

Priority is global across a worker's functions (gearmand 2.0); between functions of the
same priority the worker is served round robin, least recently served first.
"""

from __future__ import annotations

import heapq
from typing import Final

from gearproto import (
    CanDo,
    CanDoTimeout,
    CantDo,
    Event,
    GrabJob,
    GrabJobAll,
    JobAssign,
    NoJob,
    Noop,
)

from ._jobs import JobBook
from ._model import QUEUED, RUNNING, Function, Peer

__all__ = ("Dispatch",)

_NOOP: Final = Noop()
_NO_JOB: Final = NoJob()
#: A sleeping worker with more functions than this is not added to each function's
#: list of sleepers (PRE_SLEEP stays O(1)); wake-ups scan these few workers instead.
_MANY: Final = 32


class Dispatch(JobBook):
    """Worker registrations and handing jobs to workers."""

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
        if peer.sleeping and not peer.noop_sent:
            if any(f.live):
                # Jobs were waiting before this worker could do them: wake it now
                # (gearmand waits for the next submit of the function).
                peer.noop_sent = True
                self._out.append((peer.cid, _NOOP))
            elif peer not in self._many_sleepers:
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
        if self._future:
            self._release_due()
        if len(order) == 1:
            for f in order:
                live = f.live
                for p in (0, 1, 2):
                    if live[p]:
                        return f, p
            return None
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

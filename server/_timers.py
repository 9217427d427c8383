"""Timers: epoch jobs that become due and CAN_DO_TIMEOUTs that expire.

The scheduler has no clock of its own: the shell asks :meth:`Timers.next_deadline` when
to call :meth:`Timers.tick`.
"""

from __future__ import annotations

import heapq
import logging

from ._jobs import JobBook, Output
from ._model import RUNNING, Job

__all__ = ("Timers",)

log = logging.getLogger(__name__)


class Timers(JobBook):
    """The deadlines the scheduler keeps."""

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

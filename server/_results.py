"""Results from workers (WORK_DATA, WARNING, STATUS, COMPLETE, FAIL, EXCEPTION), fanned out.

Every result goes to each attached client, newest first (as gearmand does), and only
from the worker that holds the job: anything else is answered with ERROR JOB_NOT_FOUND.
"""

from __future__ import annotations

from typing import Final

from gearproto import (
    Error,
    WorkComplete,
    WorkData,
    WorkException,
    WorkFail,
    WorkStatus,
    WorkWarning,
)

from ._jobs import JobBook
from ._model import DONE, NO_CLIENTS, Peer

__all__ = ("MAX_HANDLE", "Results")

_UINT32: Final = 2**32
MAX_HANDLE: Final = 63

_NOT_FOUND_DATA: Final = Error(code=b"JOB_NOT_FOUND", text=b"Job does not exist on server")
_NOT_FOUND_RESULT: Final = Error(code=b"JOB_NOT_FOUND", text=b"Job given in work result not found")
_NOT_FOUND_EXCEPTION: Final = Error(
    code=b"JOB_NOT_FOUND", text=b"An exception was received for a job that does not exist"
)
_HANDLE_TOO_LARGE: Final = Error(
    code=b"ARGUMENT_TOO_LARGE",
    text=b"Error occurred due to GEARMAND_JOB_HANDLE_SIZE being too small from snprintf",
)


class Results(JobBook):
    """What workers report about the jobs they hold."""

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
        clients = job.clients
        if type(e) is WorkException:
            peer.last_exception = e.handle
        elif len(clients) == 1 and not job.unique and not job.persisted:
            # The common case, inlined: one client, nothing indexed or stored. This is
            # _finish() + _forget() for that case; change them together.
            client = clients[0]
            self._out.append((client.cid, e))
            del peer.jobs[job.handle]
            job.worker = None
            f = job.function
            f.running -= 1
            f.total -= 1
            job.timer = 0
            job.state = DONE
            del self.jobs[job.handle]
            client.attached.pop(job, None)
            job.clients = NO_CLIENTS
            return
        if clients:
            if type(e) is WorkException:
                fail = WorkFail(handle=job.handle)
                self._out.extend(
                    (c.cid, e if c.exceptions else fail) for c in reversed(job.clients)
                )
            else:
                self._out.extend((c.cid, e) for c in reversed(job.clients))
        self._finish(job)

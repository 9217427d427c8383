"""Questions and small requests: GET_STATUS*, ECHO, OPTION_REQ, SET_CLIENT_ID, cancel."""

from __future__ import annotations

from typing import Final

from gearproto import (
    EchoReq,
    EchoRes,
    Error,
    Event,
    GetStatus,
    GetStatusUnique,
    OptionReq,
    OptionRes,
    SetClientId,
    StatusRes,
    StatusResUnique,
    WorkFail,
)

from ._intake import MAX_UNIQUE
from ._jobs import CloseConnection, JobBook, Output
from ._model import DONE, NO_CLIENTS, QUEUED, RUNNING, Job, Peer
from ._results import MAX_HANDLE

__all__ = ("Queries",)

MAX_CLIENT_ID: Final = 127

_INVALID_COMMAND: Final = Error(code=b"INVALID_COMMAND", text=b"Command not expected")
_UNKNOWN_OPTION: Final = Error(
    code=b"UNKNOWN_OPTION", text=b"Server does not recognize given option"
)


class Queries(JobBook):
    """Status queries, connection options and the admin ``cancel job``."""

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
            job = same[0] if isinstance(same, list) else same
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
        self._drop(job)
        return True

    def _drop(self, job: Job) -> None:
        """Remove ``job`` without a word to its clients (a running one is ignored)."""
        for c in job.clients:
            c.attached.pop(job, None)
        job.clients = NO_CLIENTS
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

    def take_output(self) -> Output:
        """Events produced outside :meth:`handle` (admin ``cancel``)."""
        return self._flush()

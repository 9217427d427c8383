"""The blocking admin client: gearadmin's commands with typed results."""

from __future__ import annotations

import gearproto

from .._core import admin as core
from .._core.api import AdminBase
from .._core.convert import Data
from .._errors import ConnectionLost, Timeout
from . import _net

__all__ = ("Admin",)


class Admin(AdminBase):
    """Admin commands on one job server (``status``, ``workers``, ``cancel job`` …).

    Args:
        server: ``"host:port"`` (port 4730 by default).
        timeout: Seconds to wait for each answer (``None``: forever).
        ssl: ``True``, or an :class:`ssl.SSLContext`, to speak TLS (``True``: a
            default context, which verifies the server's certificate).
    """

    def _init_flavour(self) -> None:
        self._sock: _net.Socket | None = None

    def __enter__(self) -> Admin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def request(self, event: gearproto.Event) -> gearproto.Event:
        """Send any request (an admin command or ECHO_REQ) and return the answer."""
        if self._sock is None:
            self._conn = gearproto.Connection(gearproto.CLIENT)
            self._sock = _net.connect(self.address, self._timeout, self._ssl)
        sock = self._sock
        sock.settimeout(self._timeout)
        try:
            sock.sendall(self._conn.send(event))
            while True:
                reply = self._conn.next_event()
                if reply is gearproto.NEED_DATA:
                    self._conn.receive_data(sock.recv(65536))
                    continue
                if isinstance(reply, gearproto.ConnectionClosed):
                    raise ConnectionLost(f"{self.address} closed the connection")
                return reply
        except TimeoutError:
            self.close()
            raise Timeout(f"no answer from {self.address}") from None
        except (OSError, gearproto.ProtocolError) as exc:
            self.close()
            raise ConnectionLost(f"admin connection to {self.address}: {exc}") from exc

    def command(self, word: str, *args: Data | int) -> gearproto.Event:
        """Send the admin command ``word args…`` and return gearproto's reply event."""
        return self.request(core.command(word, *args))

    def status(self) -> tuple[gearproto.FunctionStatus, ...]:
        """``status``: per function, jobs held, running, and workers."""
        return core.check(self.command("status"), gearproto.StatusReply).functions

    def priority_status(self) -> tuple[gearproto.FunctionPriorityStatus, ...]:
        """``prioritystatus``: per function, queued jobs per priority, and workers."""
        reply = self.command("prioritystatus")
        return core.check(reply, gearproto.PriorityStatusReply).functions

    def workers(self) -> tuple[gearproto.WorkerInfo, ...]:
        """``workers``: every connection, its client id and its functions."""
        return core.check(self.command("workers"), gearproto.WorkersReply).workers

    def show_jobs(self) -> tuple[gearproto.JobInfo, ...]:
        """``show jobs``: every job with its retries and flags."""
        return core.check(self.command("show", "jobs"), gearproto.ShowJobsReply).jobs

    def show_unique_jobs(self) -> tuple[bytes, ...]:
        """``show unique jobs``: the unique id of every job."""
        reply = self.command("show", "unique", "jobs")
        return core.check(reply, gearproto.ShowUniqueJobsReply).uniques

    def cancel_job(self, handle: Data) -> None:
        """``cancel job <handle>``; raises AdminCommandError (``UNKNOWN_JOB``) if unknown."""
        core.check(self.command("cancel", "job", handle), gearproto.AdminOk)

    def create_function(self, name: Data) -> None:
        """``create function <name>``."""
        core.check(self.command("create", "function", name), gearproto.AdminOk)

    def drop_function(self, name: Data) -> None:
        """``drop function <name>`` (only without workers and running jobs)."""
        core.check(self.command("drop", "function", name), gearproto.AdminOk)

    def maxqueue(self, function: Data, *limits: int) -> None:
        """``maxqueue <function> [all | high normal [low]]``; no limits means unlimited."""
        core.check(self.request(core.maxqueue(function, limits)), gearproto.AdminOk)

    def getpid(self) -> int:
        """``getpid``: the server's process id."""
        return core.check(self.command("getpid"), gearproto.PidReply).pid

    def verbose(self) -> bytes:
        """``verbose``: the server's log level, e.g. ``b"ERROR"``."""
        return core.check(self.command("verbose"), gearproto.VerboseReply).level

    def version(self) -> bytes:
        """``version``: the server's version, e.g. ``b"1.1.20"``."""
        return core.check(self.command("version"), gearproto.VersionReply).version

    def echo(self, data: bytes = b"ping") -> bytes:
        """ECHO_REQ on the admin connection: a ping."""
        return core.echoed(self.request(gearproto.EchoReq(data=data)))

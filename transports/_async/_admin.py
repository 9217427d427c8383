"""The async admin client: gearadmin's commands with typed results."""

from __future__ import annotations

import ssl as _ssl

import anyio

import gearproto

from .._core import admin as core
from .._core.api import AdminBase
from .._core.convert import Data
from .._core.servers import Address
from .._errors import ConnectionLost, Timeout
from ._stream import Stream

__all__ = ("Admin",)


class Admin(AdminBase):
    """Admin commands on one job server; see :class:`transports.sync.Admin`."""

    @staticmethod
    async def _open(address: Address, ssl: _ssl.SSLContext | None) -> Stream:
        """Open a byte stream to ``address``: each flavour provides this."""
        raise NotImplementedError

    def _init_flavour(self) -> None:
        self._stream: Stream | None = None
        self._lock = anyio.Lock()

    async def __aenter__(self) -> Admin:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection."""
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.aclose()

    async def request(self, event: gearproto.Event) -> gearproto.Event:
        """Send any request (an admin command or ECHO_REQ) and return the answer."""
        async with self._lock:
            try:
                with anyio.fail_after(self._timeout):
                    return await self._request(event)
            except TimeoutError:
                await self.aclose()
                raise Timeout(f"no answer from {self.address}") from None
            except (OSError, gearproto.ProtocolError, anyio.BrokenResourceError) as exc:
                await self.aclose()
                raise ConnectionLost(f"admin connection to {self.address}: {exc!r}") from exc

    async def _request(self, event: gearproto.Event) -> gearproto.Event:
        if self._stream is None:
            self._conn = gearproto.Connection(gearproto.CLIENT)
            self._stream = await self._open(self.address, self._ssl)
        await self._stream.send_all(self._conn.send(event))
        while True:
            reply = self._conn.next_event()
            if reply is gearproto.NEED_DATA:
                self._conn.receive_data(await self._stream.receive_some(65536))
                continue
            if isinstance(reply, gearproto.ConnectionClosed):
                raise ConnectionLost(f"{self.address} closed the connection")
            return reply

    async def command(self, word: str, *args: Data | int) -> gearproto.Event:
        """Send the admin command ``word args…`` and return gearproto's reply event."""
        return await self.request(core.command(word, *args))

    async def status(self) -> tuple[gearproto.FunctionStatus, ...]:
        """``status``: per function, jobs held, running, and workers."""
        return core.check(await self.command("status"), gearproto.StatusReply).functions

    async def priority_status(self) -> tuple[gearproto.FunctionPriorityStatus, ...]:
        """``prioritystatus``: per function, queued jobs per priority, and workers."""
        reply = await self.command("prioritystatus")
        return core.check(reply, gearproto.PriorityStatusReply).functions

    async def workers(self) -> tuple[gearproto.WorkerInfo, ...]:
        """``workers``: every connection, its client id and its functions."""
        return core.check(await self.command("workers"), gearproto.WorkersReply).workers

    async def show_jobs(self) -> tuple[gearproto.JobInfo, ...]:
        """``show jobs``: every job with its retries and flags."""
        return core.check(await self.command("show", "jobs"), gearproto.ShowJobsReply).jobs

    async def show_unique_jobs(self) -> tuple[bytes, ...]:
        """``show unique jobs``: the unique id of every job."""
        reply = await self.command("show", "unique", "jobs")
        return core.check(reply, gearproto.ShowUniqueJobsReply).uniques

    async def cancel_job(self, handle: Data) -> None:
        """``cancel job <handle>``."""
        core.check(await self.command("cancel", "job", handle), gearproto.AdminOk)

    async def create_function(self, name: Data) -> None:
        """``create function <name>``."""
        core.check(await self.command("create", "function", name), gearproto.AdminOk)

    async def drop_function(self, name: Data) -> None:
        """``drop function <name>``."""
        core.check(await self.command("drop", "function", name), gearproto.AdminOk)

    async def maxqueue(self, function: Data, *limits: int) -> None:
        """``maxqueue <function> [all | high normal [low]]``."""
        core.check(await self.request(core.maxqueue(function, limits)), gearproto.AdminOk)

    async def getpid(self) -> int:
        """``getpid``: the server's process id."""
        return core.check(await self.command("getpid"), gearproto.PidReply).pid

    async def verbose(self) -> bytes:
        """``verbose``: the server's log level."""
        return core.check(await self.command("verbose"), gearproto.VerboseReply).level

    async def version(self) -> bytes:
        """``version``: the server's version."""
        return core.check(await self.command("version"), gearproto.VersionReply).version

    async def echo(self, data: bytes = b"ping") -> bytes:
        """ECHO_REQ on the admin connection: a ping."""
        return core.echoed(await self.request(gearproto.EchoReq(data=data)))

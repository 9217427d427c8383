"""Client, Worker and Admin for asyncio (uvloop works too).

.. code-block:: python

    from transports.asyncio import Client

    async with Client("127.0.0.1:4730") as client:
        print(await client.submit("reverse", b"Hello World!"))
"""

from __future__ import annotations

import asyncio
import socket
import ssl as _ssl
from collections.abc import Callable
from typing import cast

from .. import *  # noqa: F403 (the exceptions and result types of every flavour)
from .. import __all__ as _shared
from .._async import _admin, _client, _worker
from .._async._client import Task
from .._async._worker import Job
from .._core.servers import Address

__all__ = (*_shared, "Admin", "Client", "Job", "Task", "Worker")


_HIGH_WATER = 256 * 1024
_READ_LIMIT = 2 << 20  # bytes read but not yet taken before reading pauses


class _Stream(asyncio.Protocol):
    """A byte stream on an asyncio transport, read by pull or by push.

    :meth:`receive_some` reads as a stream reader would; :meth:`deliver` hands each
    read to a function straight from the event loop's callback instead, without a
    task waking up per read (the client's reader uses it). Writes queued while the
    event loop runs other code go to the transport together at the end of the loop's
    turn: a batch of submits is one ``send``.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._reading_paused = False
        self._eof = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None  # a reader's
        self._sink: Callable[[bytes], bool] | None = None
        self._paused = False
        self._drained: asyncio.Future[None] | None = None
        self._closed = self._loop.create_future()
        self._pending: list[bytes] = []
        self._size = 0  # what the transport holds, and what is pending

    # ------------------------------------------------------------- protocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        if self._sink is None:
            self._buffer += data
            if len(self._buffer) > _READ_LIMIT and not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()  # type: ignore[union-attr]
        else:
            try:
                if not self._sink(data):
                    return  # the delivering task sleeps on
                self._sink = None
            except Exception as exc:  # a protocol error: the stream is given up
                self._sink = None
                self._error = exc
                self.transport.close()  # type: ignore[union-attr]
        self._wake()

    def eof_received(self) -> bool | None:
        self._eof = True
        self._wake()
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if exc is not None and self._error is None:
            self._error = exc
        self._wake()
        if not self._closed.done():
            self._closed.set_result(None)
        self.resume_writing()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _wait(self) -> None:
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    # ------------------------------------------------------------- the stream

    async def receive_some(self, max_bytes: int) -> bytes:
        while not self._buffer:
            if self._error is not None:
                raise self._error
            if self._eof:
                return b""
            await self._wait()
        return self._take(max_bytes)

    def _take(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of what was read, resuming reading once below the limit."""
        data = bytes(self._buffer[:max_bytes])
        del self._buffer[:max_bytes]
        if self._reading_paused and len(self._buffer) <= _READ_LIMIT:
            self._reading_paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]
        return data

    async def deliver(self, sink: Callable[[bytes], bool]) -> None:
        """Call ``sink`` with every read (``b""`` at the end) until it returns ``True``."""
        if self._buffer and sink(self._take(len(self._buffer))):
            return
        self._sink = sink
        try:
            while self._sink is not None:
                if self._error is not None:
                    raise self._error
                if self._eof:
                    sink(b"")
                    return
                await self._wait()
        finally:
            self._sink = None

    def _flush(self) -> None:
        if self._pending:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending.clear()
            if not self.transport.is_closing():  # type: ignore[union-attr]
                self.transport.write(data)  # type: ignore[union-attr]

    async def send_all(self, data: bytes) -> None:
        self._flush()
        transport = self.transport
        assert transport is not None
        if transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        if data:
            transport.write(data)
        while self._paused:
            self._drained = self._loop.create_future()
            await self._drained
            if transport.is_closing():
                raise ConnectionResetError("the connection is closed")

    def write_nowait(self, data: bytes, now: bool) -> bool:
        """Queue ``data`` in order (``now``: write at once if nothing is queued).

        Returns ``True`` when the buffers are full enough to drain.
        """
        transport = self.transport
        assert transport is not None
        if now and not self._pending:
            transport.write(data)
            return transport.get_write_buffer_size() > _HIGH_WATER
        if not self._pending:
            self._loop.call_soon(self._flush)
            self._size = transport.get_write_buffer_size()
        self._pending.append(data)
        self._size += len(data)
        return self._size > _HIGH_WATER

    async def aclose(self) -> None:
        self._flush()
        if self.transport is not None:
            self.transport.close()
        await asyncio.shield(self._closed)


async def connect(address: Address, ssl: _ssl.SSLContext | None) -> _Stream:
    """Open a stream with TCP_NODELAY and keepalive (TLS when ``ssl`` is given)."""
    transport, stream = await asyncio.get_running_loop().create_connection(
        _Stream,
        address.host,
        address.port,
        ssl=ssl,
        server_hostname=address.host if ssl is not None else None,
    )
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    return stream


class Client(_client.Client):
    """A Gearman client for asyncio; ``async with Client(servers) as client: ...``.

    See :class:`transports.sync.Client` for the arguments; every method is a coroutine.
    """

    _open = staticmethod(connect)


class Worker(_worker.Worker):
    """A Gearman worker for asyncio; ``await worker.work()`` runs it until ``stop()``.

    See :class:`transports.sync.Worker` for the arguments.
    """

    _open = staticmethod(connect)


class Admin(_admin.Admin):
    """Admin commands for asyncio; see :class:`transports.sync.Admin`."""

    _open = staticmethod(connect)

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

from .. import *  # noqa: F403 (the exceptions and result types of every flavour)
from .. import __all__ as _shared
from .._async import _admin, _client, _worker
from .._async._client import Task
from .._async._worker import Job
from .._core.servers import Address

__all__ = (*_shared, "Admin", "Client", "Job", "Task", "Worker")


_HIGH_WATER = 256 * 1024


class _Stream:
    """A :class:`~asyncio.StreamReader`/:class:`~asyncio.StreamWriter` pair as a byte stream.

    Writes queued while the event loop runs other code go to the transport together,
    in one call, at the end of the loop's turn: a batch of submits is one ``send``.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._pending: list[bytes] = []
        self._size = 0  # what the transport holds, and what is pending
        self._loop = asyncio.get_running_loop()

    async def receive_some(self, max_bytes: int) -> bytes:
        return await self._reader.read(max_bytes)

    def _flush(self) -> None:
        if self._pending:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending.clear()
            if not self._writer.is_closing():
                self._writer.write(data)

    async def send_all(self, data: bytes) -> None:
        self._flush()
        if data:
            self._writer.write(data)
        await self._writer.drain()

    def write_nowait(self, data: bytes, now: bool) -> bool:
        """Queue ``data`` in order (``now``: write at once if nothing is queued).

        Returns ``True`` when the buffers are full enough to drain.
        """
        if now and not self._pending:
            self._writer.write(data)
            return self._writer.transport.get_write_buffer_size() > _HIGH_WATER
        if not self._pending:
            self._loop.call_soon(self._flush)
            self._size = self._writer.transport.get_write_buffer_size()
        self._pending.append(data)
        self._size += len(data)
        return self._size > _HIGH_WATER

    async def aclose(self) -> None:
        self._flush()
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (OSError, _ssl.SSLError):
            pass


async def connect(address: Address, ssl: _ssl.SSLContext | None) -> _Stream:
    """Open a stream with TCP_NODELAY and keepalive (TLS when ``ssl`` is given)."""
    reader, writer = await asyncio.open_connection(
        address.host,
        address.port,
        ssl=ssl,
        server_hostname=address.host if ssl is not None else None,
        limit=1 << 20,
    )
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    return _Stream(reader, writer)


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

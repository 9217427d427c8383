"""Client, Worker and Admin for trio.

.. code-block:: python

    from transports.trio import Client

    async with Client("127.0.0.1:4730") as client:
        print(await client.submit("reverse", b"Hello World!"))
"""

from __future__ import annotations

import socket
import ssl as _ssl

import trio

from .. import *  # noqa: F403 (the exceptions and result types of every flavour)
from .. import __all__ as _shared
from .._async import _admin, _client, _worker
from .._async._client import Task
from .._async._worker import Job
from .._core.servers import Address

__all__ = (*_shared, "Admin", "Client", "Job", "Task", "Worker")


class _Stream:
    """A trio stream whose errors are plain :class:`OSError`, as the drivers expect."""

    def __init__(self, stream: trio.SocketStream | trio.SSLStream[trio.SocketStream]) -> None:
        self._stream = stream

    async def receive_some(self, max_bytes: int) -> bytes:
        try:
            return bytes(await self._stream.receive_some(max_bytes))
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise ConnectionResetError(str(exc)) from exc

    async def send_all(self, data: bytes) -> None:
        try:
            await self._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise ConnectionResetError(str(exc)) from exc

    async def aclose(self) -> None:
        await self._stream.aclose()


class _SocketStream:
    """Plain TCP on a non-blocking socket, waiting through trio's I/O manager.

    Cheaper per call than :class:`trio.SocketStream`: a read waits for the socket
    first and then reads once (an answer has rarely arrived already, so trying first
    would mostly cost a failed ``recv``), and a write the kernel takes whole returns
    without a trip through the scheduler. Every read is a checkpoint.
    """

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock

    async def receive_some(self, max_bytes: int) -> bytes:
        sock = self._sock
        while True:
            try:
                await trio.lowlevel.wait_readable(sock)
                return sock.recv(max_bytes)
            except BlockingIOError:
                pass
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ConnectionResetError(str(exc)) from exc

    def send_nowait(self, data: bytes) -> int:
        try:
            return self._sock.send(data)
        except BlockingIOError:
            return 0

    async def send_all(self, data: bytes) -> None:
        sock, view = self._sock, memoryview(data)
        try:
            while view:
                try:
                    view = view[sock.send(view) :]
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(sock)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise ConnectionResetError(str(exc)) from exc

    async def aclose(self) -> None:
        if self._sock.fileno() != -1:
            trio.lowlevel.notify_closing(self._sock)
            self._sock.close()
        await trio.lowlevel.checkpoint()


async def connect(address: Address, ssl: _ssl.SSLContext | None) -> _Stream | _SocketStream:
    """Open a stream with TCP_NODELAY and keepalive (TLS when ``ssl`` is given)."""
    stream = await trio.open_tcp_stream(address.host, address.port)
    stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if ssl is None:
        return _SocketStream(socket.socket(fileno=stream.socket.detach()))
    tls = trio.SSLStream(stream, ssl, server_hostname=address.host)
    try:
        await tls.do_handshake()
    except trio.BrokenResourceError as exc:
        await stream.aclose()
        raise ConnectionRefusedError(f"TLS handshake with {address} failed: {exc}") from exc
    return _Stream(tls)


class Client(_client.Client):
    """A Gearman client for trio; ``async with Client(servers) as client: ...``.

    See :class:`transports.sync.Client` for the arguments; every method is async.
    """

    _open = staticmethod(connect)


class Worker(_worker.Worker):
    """A Gearman worker for trio; ``await worker.work()`` runs it until ``stop()``.

    See :class:`transports.sync.Worker` for the arguments.
    """

    _open = staticmethod(connect)


class Admin(_admin.Admin):
    """Admin commands for trio; see :class:`transports.sync.Admin`."""

    _open = staticmethod(connect)

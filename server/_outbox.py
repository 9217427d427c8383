"""Per-connection output: collected during a batch, written without waiting on the peer.

The server appends encoded packets to :attr:`Outbox.parts` and, once per batch, calls
:meth:`Outbox.flush`; neither awaits. What cannot be written at once stays queued for
that connection alone, so a peer that stops reading slows nobody else.

Three ways to write, fastest first:

* **transport** (asyncio, plain TCP): the bytes go to the asyncio transport, which
  writes what the socket takes and buffers the rest (anyio's ``SocketStream`` is built
  on that transport; writing to it directly skips a task switch per write).
* **socket** (trio, plain TCP): a non-blocking ``send`` on the socket; a writer task
  waits for writability only when the kernel buffer is full.
* **stream** (TLS): a writer task sends through the anyio stream.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.abc import SocketAttribute

import gearproto

__all__ = ("LARGE", "Outbox", "encode", "encode_vectored")

log = logging.getLogger(__name__)

_TRANSPORT, _SOCKET, _STREAM = 0, 1, 2

#: Encodes every outgoing event: a SERVER connection keeps no state when it sends,
#: so one serves every connection.
encode = gearproto.Connection(gearproto.SERVER).send
#: The same with the data part apart: ``[header and fixed fields, data]``.
encode_vectored = gearproto.Connection(gearproto.SERVER).send_vectored
#: Payloads from this size on are encoded vectored and written without being joined.
LARGE = 64 * 1024


class Outbox:
    """The bytes waiting to be written to one connection."""

    __slots__ = (
        "busy",
        "closing",
        "done",
        "drained_event",
        "finishing",
        "limit",
        "mode",
        "parts",
        "scope",
        "size",
        "sock",
        "stream",
        "transport",
        "wake",
    )

    def __init__(self, stream: anyio.abc.ByteStream, limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.wake = anyio.Event()
        self.done = anyio.Event()
        self.closing = False
        self.busy = False
        self.finishing = False
        #: asyncio: set when the transport has written everything (see FastProtocol).
        self.drained_event: Any = None
        self.scope: anyio.CancelScope | None = None
        self.transport: Any = None
        self.sock: socket.socket | None = None
        self.mode = _STREAM
        transport = getattr(stream, "_transport", None)
        if transport is not None and all(
            hasattr(transport, name) for name in ("write", "get_write_buffer_size", "is_closing")
        ):
            self.transport = transport
            self.mode = _TRANSPORT
        elif type(stream).__module__.startswith("anyio._backends._trio"):
            try:
                self.sock = stream.extra(SocketAttribute.raw_socket)
                self.mode = _SOCKET
            except anyio.TypedAttributeLookupError:
                pass

    def flush(self) -> bool:
        """Start writing what was pushed; ``False`` if the peer has too much unread."""
        if not self.parts or self.closing:
            return True
        mode = self.mode
        if mode == _TRANSPORT:
            parts = self.parts
            large = self.size >= LARGE
            self.parts = []
            self.size = 0
            transport = self.transport
            if transport.is_closing():
                return True
            if len(parts) == 1:
                transport.write(parts[0])
            elif large:
                transport.writelines(parts)  # one writev, nothing copied
            else:
                transport.write(b"".join(parts))
            return bool(transport.get_write_buffer_size() <= self.limit)
        if mode == _SOCKET and not self.busy:
            parts = self.parts
            data = parts[0] if len(parts) == 1 else b"".join(parts)
            assert self.sock is not None
            try:
                sent = self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                log.info("write failed: %s", exc)
                self._broken()
                return True
            if sent == len(data):
                self.parts = []
                self.size = 0
                return True
            self.parts = [data[sent:]]
            self.size = len(data) - sent
            self.busy = True
        if self.size > self.limit:
            return False
        if not self.wake.is_set():
            self.wake.set()
        return True

    def _broken(self) -> None:
        self.parts = []
        self.size = 0
        self.closing = True
        if self.scope is not None:
            self.scope.cancel()

    def close(self) -> None:
        """Stop accepting output (the connection is going away)."""
        self.closing = True
        self.parts = []
        self.size = 0

    async def run(self) -> None:
        """The writer task: writes what :meth:`flush` could not write at once."""
        try:
            if self.mode == _TRANSPORT:
                return
            while True:
                await self.wake.wait()
                self.wake = anyio.Event()
                while self.parts:
                    parts = self.parts
                    self.parts = []
                    self.size = 0
                    data = parts[0] if len(parts) == 1 else b"".join(parts)
                    if self.mode == _SOCKET:
                        await self._send_socket(data)
                    else:
                        await self.stream.send(data)
                self.busy = False
                if self.finishing:
                    return
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            log.info("write failed: %s", exc)
            self._broken()
        finally:
            self.done.set()

    async def _send_socket(self, data: bytes) -> None:
        sock = self.sock
        assert sock is not None
        view = memoryview(data)
        while view:
            await anyio.wait_writable(sock)
            try:
                sent = sock.send(view)
            except (BlockingIOError, InterruptedError):
                continue
            view = view[sent:]

    async def drained(self) -> None:
        """Wait until everything pushed has been handed to the kernel (or given up)."""
        if self.mode == _TRANSPORT:
            # anyio's aclose() aborts the transport, dropping what it still buffers.
            while self.transport.get_write_buffer_size():
                if self.drained_event is not None and not self.drained_event.is_set():
                    await self.drained_event.wait()
                else:
                    await anyio.sleep(0.005)
            return
        self.finishing = True
        self.wake.set()
        await self.done.wait()


class Inbox:
    """Reads from one connection: everything that has arrived, in one piece.

    On trio over plain TCP it reads the socket without blocking and waits for
    readability only when nothing is there (a checkpoint every few reads keeps a
    flooding peer from starving the others). Elsewhere it calls the stream's
    ``receive``. (On asyncio the server reads through :class:`~server._feeder.FastProtocol`.)
    """

    __slots__ = ("sock", "streak", "stream")

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.stream = stream
        self.sock: socket.socket | None = None
        self.streak = 0
        if type(stream).__module__.startswith("anyio._backends._trio"):
            try:
                self.sock = stream.extra(SocketAttribute.raw_socket)
            except anyio.TypedAttributeLookupError:
                pass

    async def receive(self, max_bytes: int) -> bytes:
        """The next bytes; ``b""`` at end of stream or when the connection broke."""
        sock = self.sock
        if sock is None:
            try:
                return await self.stream.receive(max_bytes)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                return b""
        self.streak += 1
        if self.streak >= 16:
            self.streak = 0
            await anyio.lowlevel.checkpoint()
        while True:
            try:
                return sock.recv(max_bytes)
            except (BlockingIOError, InterruptedError):
                self.streak = 0
                await anyio.wait_readable(sock)
            except OSError:
                return b""

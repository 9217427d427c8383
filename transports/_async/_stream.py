"""The byte stream each async flavour supplies, and the writer that feeds it in order."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

import anyio

__all__ = ("DirectStream", "Link", "PushStream", "Stream", "TryStream")

log = logging.getLogger("transports")


class Stream(Protocol):
    """A connected byte stream: what a flavour provides."""

    async def receive_some(self, max_bytes: int) -> bytes:
        """Some bytes; ``b""`` at end of stream."""

    async def send_all(self, data: bytes) -> None:
        """Write every byte."""

    async def aclose(self) -> None:
        """Close the stream."""


class DirectStream(Stream, Protocol):
    """A stream that can also queue bytes without awaiting (asyncio's transports)."""

    def write_nowait(self, data: bytes, now: bool) -> bool:
        """Queue ``data`` in order (``now``: write it at once if nothing is queued).

        Returns ``True`` when the buffer is full enough to drain.
        """


class PushStream(Stream, Protocol):
    """A stream that can hand each read to a function from the event loop (asyncio)."""

    async def deliver(self, sink: Callable[[bytes], bool]) -> None:
        """Call ``sink`` with every read (``b""`` at the end) until it returns ``True``."""


class TryStream(Stream, Protocol):
    """A stream that can also try a write without waiting (trio's plain sockets)."""

    def send_nowait(self, data: bytes) -> int:
        """Write what the kernel takes now; how many bytes that was."""


class Link:
    """Bytes queued for a stream, written in order by one writer task.

    Producers (the protocol state, possibly from a job thread via anyio) call
    :meth:`write`, which never blocks, so the order of the sans-I/O state changes is
    the order of the bytes on the wire. Everything queued while the producers run is
    written at once when they yield, so a batch of submits is one write. A write
    marked ``now`` (a request when no earlier one awaits its answer: Nagle's rule at
    the level of requests) goes out at once if nothing is queued, which spares a
    lone submit the hop through the writer task. A :class:`DirectStream` batches by
    itself; the writer task then only applies back-pressure.
    """

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self._direct = getattr(stream, "write_nowait", None)
        self._try = getattr(stream, "send_nowait", None)
        self._out = bytearray()
        self._sending = False
        self._ready = anyio.Event()
        self._flushed = anyio.Event()
        self._flushed.set()
        self.broken = False

    def write(self, data: bytes, now: bool = False) -> None:
        """Queue ``data`` (in the event loop's thread); ``now``: try to write it at once."""
        if data and not self.broken:
            if self._direct is not None:
                if self._direct(data, now):
                    self._ready.set()
                return
            if now and self._try is not None and not self._out and not self._sending:
                try:
                    data = data[self._try(data) :]
                except OSError:
                    pass  # the writer task meets the error again and gives the stream up
                if not data:
                    return
            if not self._out:
                if self._flushed.is_set():
                    self._flushed = anyio.Event()
                self._ready.set()
            self._out += data

    async def writer(self) -> None:
        """Run as a task: write queued bytes until cancelled or the stream breaks."""
        try:
            while True:
                await self._ready.wait()
                self._ready = anyio.Event()
                if self._direct is not None:
                    await self.stream.send_all(b"")
                while self._out:
                    data = bytes(self._out)
                    self._out.clear()
                    self._sending = True
                    await self.stream.send_all(data)
                    self._sending = False
                self._flushed.set()
        except Exception as exc:
            # A half-written packet desynchronises the stream: give it up; the reader
            # then fails, or resends what was waiting on it.
            log.debug("write failed: %r", exc)
            self.broken = True
            self._flushed.set()
            await self.stream.aclose()

    async def flush(self) -> None:
        """Wait until everything queued so far was written."""
        if self._direct is not None and not self.broken:
            await self.stream.send_all(b"")
        await self._flushed.wait()

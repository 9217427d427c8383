"""From received bytes to the scheduler: one :class:`Feeder` per connection.

The same synchronous step serves both ways of reading: the anyio reader task (trio,
TLS) and, on asyncio, an asyncio protocol whose ``data_received`` feeds the scheduler
straight from the event loop's callback, with no task switch per read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import gearproto
from gearproto import RemoteProtocolError

from ._scheduler import CloseConnection, Output, Scheduler

__all__ = ("FastProtocol", "Feeder")

log = logging.getLogger("server._server")


class Feeder:
    """Parses one connection's bytes and hands every event to the scheduler."""

    __slots__ = ("after", "cid", "conn", "dispatch", "eof", "scheduler")

    def __init__(
        self,
        cid: int,
        max_packet_size: int,
        scheduler: Scheduler,
        dispatch: Callable[[Output], None],
        after: Callable[[], None],
    ) -> None:
        self.cid = cid
        self.conn = gearproto.Connection(gearproto.SERVER, max_packet_size=max_packet_size)
        self.scheduler = scheduler
        self.dispatch = dispatch
        self.after = after
        self.eof = False

    def feed(self, data: bytes) -> bool:
        """Process ``data`` (``b""``: end of stream); ``False`` once the connection must close."""
        if self.eof:
            return False
        conn = self.conn
        if data:
            conn.receive_data(data)
        else:
            self.eof = True
            conn.receive_data(b"")
        cid = self.cid
        dispatch = self.dispatch
        try:
            out, closed = self.scheduler.handle_events(cid, conn.next_event)
            if out:
                dispatch(out)
            return not closed
        except RemoteProtocolError as exc:
            log.warning("connection %d closed: %s", cid, exc)
            out = self.scheduler.take_output()
            if exc.error_hint is not None:
                out.append((cid, exc.error_hint))
            if out:
                dispatch(out)
            self.eof = True
            return False
        except CloseConnection as exc:
            log.warning("connection %d closed: %s", cid, exc)
            out = self.scheduler.take_output()
            if out:
                dispatch(out)
            self.eof = True
            return False
        finally:
            self.after()


class FastProtocol(asyncio.Protocol):
    """The asyncio protocol that replaces anyio's on a plain TCP connection."""

    def __init__(self, feeder: Feeder) -> None:
        self.feeder = feeder
        self.finished = False
        self.done = asyncio.Event()
        self.drained = asyncio.Event()
        self.drained.set()

    def _finish(self) -> None:
        self.finished = True
        self.done.set()

    def data_received(self, data: bytes) -> None:
        """Feed the scheduler at once."""
        if self.finished:
            return
        try:
            keep = self.feeder.feed(data if type(data) is bytes else bytes(data))
        except Exception:
            log.exception("connection %d closed by an internal error", self.feeder.cid)
            keep = False
        if not keep:
            self._finish()

    def eof_received(self) -> bool:
        """End of stream: process what is left, then close."""
        self.data_received_eof()
        return True

    def data_received_eof(self) -> None:
        """Feed the end of stream."""
        if not self.finished:
            try:
                self.feeder.feed(b"")
            except Exception:
                log.exception("connection %d closed by an internal error", self.feeder.cid)
            self._finish()

    def connection_lost(self, exc: Exception | None) -> None:
        """The socket is gone (reset, or closed by us)."""
        self.data_received_eof()
        self.drained.set()

    def pause_writing(self) -> None:
        """The transport buffers output."""
        self.drained.clear()

    def resume_writing(self) -> None:
        """The transport's buffer is empty again."""
        self.drained.set()

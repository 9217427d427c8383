"""The anyio shell around the scheduler: listeners, connections, timers, shutdown.

Reading: every event a connection sends is handed to the :class:`~server.Scheduler`
synchronously (:class:`~server._feeder.Feeder`). On asyncio over plain TCP this runs
in the transport's ``data_received`` callback; elsewhere (trio, TLS) a reader task per
connection does it after each read.

Writing: what the scheduler says to send is encoded at once into the outbox of the
connection it is for (:class:`~server._outbox.Outbox`). Once per turn of the event
loop, after every ready connection has been read, the store is committed (so no
JOB_CREATED leaves before its job is durable, and one commit covers every submit of
that turn) and each outbox is written in one piece. The exception: without a
persistent store, an outbox that receives a NOOP or a JOB_ASSIGN is written at once
(a worker starts sooner; little else would join it). Nothing on this path awaits a peer:
a peer that stops reading only grows its own outbox, up to ``max_output_buffer``, and
is then disconnected.

Timers (CAN_DO_TIMEOUT, epoch jobs) are one task that sleeps until the scheduler's
next deadline.
"""

from __future__ import annotations

import logging
import math
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import anyio
import anyio.abc
from anyio.abc import SocketAttribute
from anyio.streams.stapled import MultiListener
from anyio.streams.tls import TLSListener

import gearproto
from gearproto import JobAssign, Noop

from ._admin import AdminHandler
from ._feeder import FastProtocol, Feeder
from ._metrics import serve_metrics
from ._outbox import LARGE, Inbox, Outbox, encode, encode_vectored
from ._scheduler import Output, Scheduler
from ._store import Store

__all__ = ("Server", "ServerOptions")

log = logging.getLogger(__name__)

#: What a client gets instead of JOB_CREATED when its job could not be made durable.
_QUEUE_ERROR = encode(gearproto.Error(code=b"QUEUE_ERROR", text=b"QUEUE_ERROR"))

_READ_SIZE = 256 * 1024

#: What starts a worker's work: written at once (see Server._dispatch).
_STARTERS = frozenset({JobAssign, Noop})
#: The events that carry a job's payload to a peer.
_CARRIERS = frozenset(
    {
        gearproto.JobAssign,
        gearproto.WorkComplete,
        gearproto.WorkData,
        gearproto.WorkWarning,
        gearproto.WorkException,
    }
)


@dataclass
class ServerOptions:
    """Everything :class:`Server` can be told; defaults are gearmand's unless noted.

    Attributes:
        hosts: Addresses to listen on (``None`` = every interface, IPv4 and IPv6).
        port: TCP port (0 = pick a free one; see :attr:`Server.ports`).
        backlog: Listen backlog.
        job_retries: Times a job may lose its worker before it is dropped with WORK_FAIL
            (-1 = unlimited, 0 = drop on the first loss).
        worker_wakeup: NOOPs sent per queued job (0 = every sleeping worker).
        handle_prefix: Job handles are ``<prefix>:<n>``; default ``H:<hostname>``.
        exceptions: The ``exceptions`` option is on for every connection.
        keepalive: Also set the TCP keepalive options on the listening sockets.
        keepalive_idle: TCP_KEEPIDLE seconds for accepted sockets (-1 = system default).
        keepalive_interval: TCP_KEEPINTVL seconds (-1 = system default).
        keepalive_count: TCP_KEEPCNT probes (-1 = system default).
        ssl_context: Serve TLS on every connection with this server context.
        max_packet_size: Largest packet payload accepted from a peer.
        max_output_buffer: Bytes a peer may leave unread before it is disconnected
            (1 GiB).
        verbose_name: Returns the log level name the admin ``verbose`` command reports.
        metrics_port: Serve Prometheus metrics at ``http://<metrics_host>:<port>/metrics``
            (``None``: no metrics; 0 picks a free port, see :attr:`Server.metrics_port`).
        metrics_host: The address the metrics are served on (loopback by default).
    """

    hosts: Sequence[str] | None = None
    port: int = 4730
    backlog: int = 4096
    job_retries: int = -1
    worker_wakeup: int = 0
    handle_prefix: bytes | None = None
    exceptions: bool = False
    keepalive: bool = False
    keepalive_idle: int = -1
    keepalive_interval: int = -1
    keepalive_count: int = -1
    ssl_context: ssl.SSLContext | None = None
    max_packet_size: int = gearproto.DEFAULT_MAX_PACKET_SIZE
    max_output_buffer: int = 1024 * 1024 * 1024
    verbose_name: Callable[[], bytes] = field(default=lambda: b"ERROR")
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"


class Server:
    """A Gearman job server: embed it in an anyio application or run ``gearproto-server``.

    Example::

        server = Server(ServerOptions(hosts=["127.0.0.1"], port=0))
        async with anyio.create_task_group() as tg:
            ports = await tg.start(server.serve)
            ...
            server.shutdown()

    :param options: Listening and scheduling options.
    :param store: The persistent queue (default: nothing is persisted).
    :param clock: Unix time in seconds, for epoch jobs and CAN_DO_TIMEOUT.
    """

    def __init__(
        self,
        options: ServerOptions | None = None,
        *,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = opts = options or ServerOptions()
        prefix = opts.handle_prefix
        if prefix is None:
            prefix = b"H:" + socket.gethostname().encode()[:40]
        self.store = store or Store()
        self.scheduler = Scheduler(
            clock=clock,
            store=self.store,
            handle_prefix=prefix,
            job_retries=opts.job_retries,
            worker_wakeup=opts.worker_wakeup,
            exceptions=opts.exceptions,
        )
        self.scheduler.admin = AdminHandler(verbose=opts.verbose_name)
        self._clock = clock
        self._outboxes: dict[int, Outbox] = {}
        self._dirty: dict[Outbox, int] = {}
        #: With a persistent store: each JOB_CREATED queued since the last commit, as
        #: (outbox, index in its parts, handle), in case the commit fails.
        self._created: list[tuple[Outbox, int, bytes]] | None = (
            [] if self.store.persistent else None
        )
        self._next_cid = 0
        self._stop: anyio.Event | None = None
        self._stopping = False
        self._graceful = False
        self._timer_wake: anyio.Event | None = None
        self._flush_pending = False
        self._flush_wake: anyio.Event | None = None
        self._call_soon: Callable[[Callable[[], None]], object] | None = None
        self._timer_target = math.inf
        self._idle: anyio.Event | None = None
        #: The ports listened on, once :meth:`serve` has started.
        self.ports: list[int] = []
        #: The port the metrics are served on, once :meth:`serve` has started.
        self.metrics_port: int | None = None

    # ------------------------------------------------------------------ control

    def shutdown(self, *, graceful: bool = False) -> None:
        """Stop the server; ``graceful``: stop listening, exit once no job is left."""
        self._graceful = graceful
        self._stopping = True
        if self._stop is not None:
            self._stop.set()

    async def serve(
        self, *, task_status: anyio.abc.TaskStatus[list[int]] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Replay the store, listen, and serve until :meth:`shutdown`.

        ``task_status.started`` receives the listening ports.
        """
        opts = self.options
        self._stop = anyio.Event()
        if self._stopping:
            self._stop.set()
        listeners: list[MultiListener[anyio.abc.SocketStream]] = []
        metrics: MultiListener[anyio.abc.SocketStream] | None = None
        try:
            replayed = self.scheduler.replay()
            self._commit()
            if replayed:
                log.info("replayed %d jobs from the persistent queue", replayed)
            hosts: Sequence[str | None] = opts.hosts or [None]
            for host in hosts:
                listener = await anyio.create_tcp_listener(
                    local_host=host, local_port=opts.port, backlog=opts.backlog
                )
                listeners.append(listener)
            for listener in listeners:
                for sub in listener.listeners:
                    if opts.keepalive:
                        self._keepalive(sub.extra(SocketAttribute.raw_socket))
                    self.ports.append(sub.extra(SocketAttribute.local_port))
            self.ports = sorted(set(self.ports))
            if opts.metrics_port is not None:
                metrics = await anyio.create_tcp_listener(
                    local_host=opts.metrics_host, local_port=opts.metrics_port
                )
                self.metrics_port = metrics.extra(SocketAttribute.local_port)
                log.info("metrics on http://%s:%d/metrics", opts.metrics_host, self.metrics_port)
            async with anyio.create_task_group() as tg:
                self._call_soon = _asyncio_call_soon()
                if self._call_soon is None:
                    await tg.start(self._start_flusher)
                accept_scope = anyio.CancelScope()
                tg.start_soon(self._accept, listeners, tg, accept_scope)
                tg.start_soon(self._timers)
                if metrics is not None:
                    tg.start_soon(serve_metrics, self.scheduler, metrics, name="metrics")
                log.info("listening on port(s) %s", ", ".join(map(str, self.ports)))
                task_status.started(self.ports)
                await self._stop.wait()
                accept_scope.cancel()
                if self._graceful:
                    log.info("graceful shutdown: waiting for %d jobs", self.scheduler.job_count)
                    self._idle = anyio.Event()
                    if self.scheduler.job_count:
                        await self._idle.wait()
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                for listener in listeners:
                    await listener.aclose()
                if metrics is not None:
                    await metrics.aclose()
            self.store.dump(self.scheduler.stored_jobs())
            self.store.close()
            log.info("server stopped")

    async def _accept(
        self,
        listeners: list[MultiListener[anyio.abc.SocketStream]],
        tg: anyio.abc.TaskGroup,
        scope: anyio.CancelScope,
    ) -> None:
        with scope:
            async with anyio.create_task_group() as accepting:
                for listener in listeners:
                    if self.options.ssl_context is not None:
                        tls = TLSListener(
                            listener, self.options.ssl_context, standard_compatible=False
                        )
                        accepting.start_soon(tls.serve, self._tls_connection, tg)
                    else:
                        accepting.start_soon(listener.serve, self._connection, tg)

    def _keepalive(self, sock: socket.socket) -> None:
        opts = self.options
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (
            ("TCP_KEEPIDLE", opts.keepalive_idle),
            ("TCP_KEEPINTVL", opts.keepalive_interval),
            ("TCP_KEEPCNT", opts.keepalive_count),
        ):
            if value != -1 and hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)

    # ------------------------------------------------------------------ output

    def _dispatch(self, out: Output) -> None:
        outboxes = self._outboxes
        dirty = self._dirty
        created = self._created
        urgent = None
        for cid, event in out:
            box = outboxes.get(cid)
            if box is not None and not box.closing:
                kind = type(event)
                if kind in _CARRIERS and len(event.data) >= LARGE:  # type: ignore[attr-defined]
                    # a large payload is written after its header, never copied into it
                    parts = encode_vectored(event)
                    box.parts += parts
                    box.size += len(parts[0]) + len(event.data)  # type: ignore[attr-defined]
                else:
                    data = encode(event)
                    if created is not None and kind is gearproto.JobCreated:
                        created.append((box, len(box.parts), event.handle))  # type: ignore[attr-defined]
                    box.parts.append(data)
                    box.size += len(data)
                if kind in _STARTERS and created is None:
                    if urgent is None:
                        urgent = {box: cid}
                    else:
                        urgent[box] = cid
                else:
                    dirty[box] = cid
        if urgent is not None:
            # A worker's NOOP or JOB_ASSIGN starts work: written at once, not at the
            # end of the turn. A worker usually has one GRAB out at a time, so little would
            # have joined it; output for clients still waits to be written together.
            # (Not with a persistent store: nothing leaves before the batch's commit.)
            for box, cid in urgent.items():
                dirty.pop(box, None)
                self._write(box, cid)

    def _write(self, box: Outbox, cid: int) -> None:
        if not box.flush():
            log.warning("connection %d closed: %d bytes of output unread", cid, box.size)
            box.close()
            if box.scope is not None:
                box.scope.cancel()

    def _flush(self) -> None:
        dirty = self._dirty
        if not dirty:
            return
        self._dirty = {}
        write = self._write
        for box, cid in dirty.items():
            write(box, cid)

    def _commit(self) -> None:
        """Commit the store; if that fails, the batch's new jobs get QUEUE_ERROR instead."""
        lost = self.scheduler.commit()
        created = self._created
        if not created:
            return
        self._created = []
        for box, index, handle in created:
            if handle in lost:
                box.size += len(_QUEUE_ERROR) - len(box.parts[index])
                box.parts[index] = _QUEUE_ERROR

    def _after_batch(self) -> None:
        """A batch of events was handled: commit and write soon, once for all batches.

        Every connection whose events are ready in this turn of the event loop is
        handled first; then one commit covers all their jobs and each peer gets one
        write, however many connections produced output for it.
        """
        if not self._flush_pending:
            self._flush_pending = True
            if self._call_soon is not None:
                self._call_soon(self._flush_now)
            elif self._flush_wake is not None:
                self._flush_wake.set()
            else:
                self._flush_now()

    def _flush_now(self) -> None:
        self._flush_pending = False
        self._commit()
        self._flush()
        if self._idle is not None and not self.scheduler.job_count:
            self._idle.set()
        deadline = self.scheduler.next_deadline()
        if deadline is not None and deadline < self._timer_target and self._timer_wake:
            self._timer_wake.set()

    async def _start_flusher(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        self._flush_wake = anyio.Event()
        task_status.started()
        await self._flusher()

    async def _flusher(self) -> None:
        while True:
            self._flush_wake = anyio.Event()
            if self._flush_pending:
                self._flush_now()
            await self._flush_wake.wait()

    async def _timers(self) -> None:
        scheduler = self.scheduler
        while True:
            deadline = scheduler.next_deadline()
            self._timer_target = deadline if deadline is not None else math.inf
            self._timer_wake = anyio.Event()
            delay = math.inf if deadline is None else max(0.0, deadline - self._clock())
            with anyio.move_on_after(delay):
                await self._timer_wake.wait()
            self._timer_wake = None
            out = scheduler.tick()
            if out:
                self._dispatch(out)
            self._after_batch()

    # ------------------------------------------------------------------ connections

    async def _tls_connection(self, stream: anyio.abc.ByteStream) -> None:
        await self._connection(stream)

    async def _connection(self, stream: anyio.abc.ByteStream) -> None:
        self._next_cid += 1
        cid = self._next_cid
        fd = -1
        address = b"-"
        try:
            sock = stream.extra(SocketAttribute.raw_socket)
            fd = sock.fileno()
            address = str(stream.extra(SocketAttribute.remote_address)[0]).encode()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._keepalive(sock)
        except (OSError, anyio.TypedAttributeLookupError, IndexError, TypeError):
            pass
        box = Outbox(stream, self.options.max_output_buffer)
        self._outboxes[cid] = box
        self.scheduler.connect(cid, fd=fd, address=address)
        log.debug("connection %d from %s", cid, address.decode(errors="replace"))
        try:
            async with stream, anyio.create_task_group() as tg:
                box.scope = tg.cancel_scope
                tg.start_soon(box.run)
                try:
                    await self._reader(cid, stream, box)
                finally:
                    self._flush_now()  # this connection's last words (an ERROR) first
                    out = self.scheduler.disconnect(cid)
                    self._outboxes.pop(cid, None)
                    if out:
                        self._dispatch(out)
                    self._after_batch()
                with anyio.move_on_after(5):
                    await box.drained()
                tg.cancel_scope.cancel()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            log.debug("connection %d: %s", cid, exc)
        except Exception:
            # A bug must cost one connection, never the server.
            log.exception("connection %d closed by an internal error", cid)
        finally:
            self._outboxes.pop(cid, None)
            if cid in self.scheduler.peers:
                self._dispatch(self.scheduler.disconnect(cid))
                self._after_batch()
            log.debug("connection %d closed", cid)

    async def _reader(self, cid: int, stream: anyio.abc.ByteStream, box: Outbox) -> None:
        feeder = Feeder(
            cid,
            self.options.max_packet_size,
            self.scheduler,
            self._dispatch,
            self._after_batch,
        )
        if box.transport is not None and self._call_soon is not None:
            await self._read_by_protocol(stream, box, feeder)
            return
        inbox = Inbox(stream)
        feed = feeder.feed
        while True:
            try:
                data = await inbox.receive(_READ_SIZE)
            except OSError as exc:
                log.info("connection %d: read failed: %s", cid, exc)
                data = b""
            if not feed(data):
                return

    async def _read_by_protocol(
        self, stream: anyio.abc.ByteStream, box: Outbox, feeder: Feeder
    ) -> None:
        """asyncio: swap anyio's stream protocol for one that feeds the scheduler."""
        transport = box.transport
        old = getattr(stream, "_protocol", None)
        protocol = FastProtocol(feeder)
        transport.set_protocol(protocol)
        queue = getattr(old, "read_queue", ())
        while queue:
            protocol.data_received(queue.popleft())
        if getattr(old, "is_at_eof", False) or getattr(old, "exception", None):
            protocol.data_received_eof()
        transport.resume_reading()
        box.drained_event = protocol.drained
        await protocol.done.wait()


def _asyncio_call_soon() -> Callable[[Callable[[], None]], object] | None:
    """``loop.call_soon`` when running on asyncio (cheaper than waking a task)."""
    import asyncio

    try:
        return asyncio.get_running_loop().call_soon
    except RuntimeError:  # trio
        return None

"""The async worker: a task per job server, a task per running job."""

from __future__ import annotations

import inspect
import logging
import ssl as _ssl
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.abc
import anyio.from_thread
import anyio.to_thread

import gearproto

from .._core import worker as core
from .._core.convert import Data, tls_context, to_bytes
from .._core.servers import Address, ServerPool, Servers, parse_servers
from ._stream import Link, Stream

__all__ = ("Job", "Worker")

log = logging.getLogger("transports.worker")

F = TypeVar("F", bound=Callable[..., Any])

RECONNECT_MIN = 0.1
RECONNECT_MAX = 10.0


class Job:
    """A job being run by a worker function (``async def`` or plain ``def``).

    The ``send_*`` methods never block: they queue the packet, from the event loop or
    from the thread a plain function runs in.

    Attributes:
        handle: The job handle.
        function: The function name (bytes).
        data: The workload (bytes).
        unique: The unique id the client gave (``b""`` if none).
        reducer: The reducer of a map/reduce job (``b""`` if none).
    """

    def __init__(self, info: core.JobInfo, conn: _Conn, session: core.WorkerSession) -> None:
        self.handle = info.handle
        self.function = info.function
        self.data = info.data
        self.unique = info.unique
        self.reducer = info.reducer
        self._conn = conn
        self._session = session
        self._failed = False

    @property
    def text(self) -> str:
        """The workload decoded as UTF-8."""
        return self.data.decode("utf-8")

    def _send(self, event: gearproto.Event) -> None:
        conn = self._conn
        if threading.get_ident() == conn.worker._loop_thread:
            conn.send(self._session, event)
        else:
            anyio.from_thread.run_sync(conn.send, self._session, event)

    def send_data(self, data: Data) -> None:
        """Send a piece of the result now (WORK_DATA)."""
        self._send(gearproto.WorkData(handle=self.handle, data=to_bytes(data)))

    def send_warning(self, data: Data) -> None:
        """Send a warning now (WORK_WARNING); the job goes on."""
        self._send(gearproto.WorkWarning(handle=self.handle, data=to_bytes(data)))

    def send_status(self, numerator: int, denominator: int) -> None:
        """Report progress (WORK_STATUS), e.g. ``send_status(3, 10)``."""
        self._send(
            gearproto.WorkStatus(handle=self.handle, numerator=numerator, denominator=denominator)
        )

    def fail(self) -> None:
        """Make the job fail (WORK_FAIL) when the function returns, whatever it returns."""
        self._failed = True


class _Conn:
    def __init__(self, worker: Worker, address: Address) -> None:
        self.worker = worker
        self.address = address
        self.session: core.WorkerSession | None = None
        self.link: Link | None = None

    def send(self, session: core.WorkerSession, event: gearproto.Event) -> None:
        if session is self.session and self.link is not None:
            self.link.write(session.update(event))

    @property
    def grabbing(self) -> bool:
        """A GRAB is waiting for its answer."""
        session = self.session
        return session is not None and session.conn.worker_state is gearproto.WorkerState.GRABBING

    def kick(self) -> None:
        if self.session is not None and self.link is not None:
            self.link.write(self.session.grab())

    async def run(self) -> None:
        worker = self.worker
        delay = RECONNECT_MIN
        while True:
            try:
                with anyio.fail_after(worker._connect_timeout):
                    stream = await worker._open(self.address, worker._ssl)
            except (OSError, TimeoutError) as exc:
                log.info("cannot connect to %s (%r); retrying in %.1f s", self.address, exc, delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX)
                continue
            delay = RECONNECT_MIN
            try:
                await self._serve(Link(stream))
            except anyio.get_cancelled_exc_class():
                raise
            except Exception as exc:
                log.warning("connection to %s failed: %r", self.address, exc)
            finally:
                session, self.session, self.link = self.session, None, None
                if session is not None:
                    session.lost()
                    if session.released:  # an unanswered GRAB's slot came back
                        for conn in worker._conns:
                            conn.kick()
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
            log.info("lost %s; reconnecting", self.address)
            await anyio.sleep(delay)

    async def _serve(self, link: Link) -> None:
        worker = self.worker
        session = core.WorkerSession(
            self.address,
            list(worker._functions.values()),
            worker._capacity,
            client_id=worker._client_id,
            grab_all=worker._grab_all,
            max_packet_size=worker._max_packet_size,
        )
        session.stopping = worker._stopping
        self.session, self.link = session, link
        async with anyio.create_task_group() as tg:
            tg.start_soon(link.writer)
            if session.poll_interval(worker._poll_interval):
                tg.start_soon(self._poll, session, link, worker._poll_interval)
            link.write(session.handshake())
            stream = link.stream
            while not session.closed and not link.broken:
                out, jobs = session.receive(await stream.receive_some(262144))
                link.write(out)
                for info in jobs:
                    worker._start(Job(info, self, session), self)
                if session.released:
                    session.released = False
                    for conn in worker._conns:
                        if conn is not self:
                            conn.kick()
            tg.cancel_scope.cancel()

    @staticmethod
    async def _poll(session: core.WorkerSession, link: Link, interval: float | None) -> None:
        while True:
            wait = session.poll_interval(interval)
            assert wait is not None  # the task starts only with an interval
            await anyio.sleep(wait)
            link.write(session.poll())

    def finish(self, session: core.WorkerSession, event: gearproto.Event) -> None:
        if session is self.session and self.link is not None:
            self.link.write(session.finish(event))


class Worker:
    """A Gearman worker for async code: ``await worker.work()`` until :meth:`stop`.

    Arguments are those of :class:`transports.sync.Worker`. Functions may be
    ``async def`` (run as tasks) or plain ``def`` (run in threads); ``concurrency``
    bounds how many run at once.
    """

    async def _open(self, address: Address, ssl: _ssl.SSLContext | None) -> Stream:
        """Open a byte stream to ``address``: each flavour provides this."""
        raise NotImplementedError

    def __init__(
        self,
        servers: Servers | None = None,
        *,
        client_id: Data | None = None,
        concurrency: int = 1,
        grab_all: bool = True,
        exceptions: bool = True,
        poll_interval: float | None = 60.0,
        ssl: _ssl.SSLContext | bool | None = None,
        connect_timeout: float = 5.0,
        max_packet_size: int = gearproto.DEFAULT_MAX_PACKET_SIZE,
    ) -> None:
        self._pool = ServerPool(parse_servers(servers))
        self._client_id = to_bytes(client_id, "client_id")
        self._capacity = core.Capacity(concurrency)
        self._grab_all = grab_all
        self._exceptions = exceptions
        self._poll_interval = poll_interval
        self._ssl = tls_context(ssl)
        self._connect_timeout = connect_timeout
        self._max_packet_size = max_packet_size
        self._functions: dict[bytes, core.Function] = {}
        self._callbacks: dict[bytes, Callable[[Job], Any]] = {}
        self._conns: list[_Conn] = []
        self._stopping = False
        self._stop_event: anyio.Event | None = None
        self._idle: anyio.Event | None = None
        self._running = 0
        self._loop_thread = 0
        self._tg: anyio.abc.TaskGroup | None = None

    def register(
        self, name: Data, function: Callable[[Job], Any], *, timeout: float | None = None
    ) -> None:
        """Register ``function`` under ``name``; ``timeout`` (seconds) sends CAN_DO_TIMEOUT."""
        name_b = to_bytes(name, "name")
        fn = core.Function(name_b, timeout)
        self._functions[name_b] = fn
        self._callbacks[name_b] = function
        for conn in self._conns:
            if conn.session is not None and conn.link is not None:
                conn.link.write(conn.session.register(fn))

    def function(self, name: Data, *, timeout: float | None = None) -> Callable[[F], F]:
        """Decorator form of :meth:`register`."""

        def decorate(function: F) -> F:
            self.register(name, function, timeout=timeout)
            return function

        return decorate

    @property
    def running_jobs(self) -> int:
        """How many jobs are running now."""
        return self._running

    def _start(self, job: Job, conn: _Conn) -> None:
        assert self._tg is not None
        self._running += 1
        if self._idle is not None and self._idle.is_set():
            self._idle = anyio.Event()
        self._tg.start_soon(self._run, job, conn)

    async def _run(self, job: Job, conn: _Conn) -> None:
        result: object = None
        error: BaseException | None = None
        callback = self._callbacks.get(job.function)
        try:
            if callback is None:
                raise LookupError(f"no function {job.function!r} registered")
            if inspect.iscoroutinefunction(callback):
                result = await callback(job)
            else:
                result = await anyio.to_thread.run_sync(callback, job)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:
            log.info("job %r of %r raised %r", job.handle, job.function, exc)
            error = exc
        event = core.outcome(
            job.handle, result, error, failed=job._failed, exceptions=self._exceptions
        )
        conn.finish(job._session, event)
        self._capacity.release()
        self._running -= 1
        if not self._running and self._idle is not None:
            self._idle.set()
        for each in self._conns:
            each.kick()

    async def work(self) -> None:
        """Serve jobs until :meth:`stop`, then finish the running jobs and return."""
        if not self._functions:
            raise ValueError("register at least one function before work()")
        self._loop_thread = threading.get_ident()
        self._stopping = False
        self._stop_event = anyio.Event()
        self._idle = anyio.Event()
        self._conns = [_Conn(self, address) for address in self._pool.addresses]
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                for conn in self._conns:
                    tg.start_soon(conn.run)
                await self._stop_event.wait()
                # Let running jobs end and unanswered GRABs be answered (a job assigned
                # now still runs), then close the connections.
                while self._running or any(c.grabbing for c in self._conns):
                    if self._running:
                        await self._idle.wait()
                    else:
                        await anyio.sleep(0.01)
                for conn in self._conns:
                    if conn.link is not None:
                        with anyio.move_on_after(5):
                            await conn.link.flush()
                tg.cancel_scope.cancel()
        finally:
            self._tg = None
            self._conns = []

    def stop(self) -> None:
        """Stop grabbing jobs; :meth:`work` returns once the running jobs are done.

        Call it from the event loop or from a job running in a thread.
        """
        if self._stop_event is None:
            return
        if threading.get_ident() != self._loop_thread:
            anyio.from_thread.run_sync(self.stop)
            return
        self._stopping = True
        for conn in self._conns:
            if conn.session is not None:
                conn.session.stopping = True
        self._stop_event.set()

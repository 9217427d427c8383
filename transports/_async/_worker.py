"""The async worker: a task per job server, a task per running job."""

from __future__ import annotations

import inspect
import logging
import ssl as _ssl
import threading

import anyio
import anyio.abc
import anyio.from_thread
import anyio.to_thread

import gearproto

from .._core import worker as core
from .._core.api import JobBase, WorkerBase
from .._core.servers import Address
from ._stream import Link, Stream

__all__ = ("Job", "Worker")

log = logging.getLogger("transports.worker")


class Job(JobBase):
    """A job being run by a worker function (``async def`` or plain ``def``).

    The ``send_*`` methods never block: they queue the packet, from the event loop or
    from the thread a plain function runs in. Attributes are those of
    :class:`transports.sync.Job`.
    """

    def __init__(self, info: core.JobInfo, conn: _Conn, session: core.WorkerSession) -> None:
        super().__init__(info)
        self._conn = conn
        self._session = session

    def _send(self, event: gearproto.Event) -> None:
        conn = self._conn
        if threading.get_ident() == conn.worker._loop_thread:
            conn.send(self._session, event)
        else:
            anyio.from_thread.run_sync(conn.send, self._session, event)


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
        delay = core.RECONNECT_MIN
        while True:
            try:
                with anyio.fail_after(worker._connect_timeout):
                    stream = await worker._open(self.address, worker._ssl)
            except (OSError, TimeoutError) as exc:
                log.info("cannot connect to %s (%r); retrying in %.1f s", self.address, exc, delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, core.RECONNECT_MAX)
                continue
            delay = core.RECONNECT_MIN
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
        session = worker._session(self.address, worker._stopping)
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


class Worker(WorkerBase[Job]):
    """A Gearman worker for async code: ``await worker.work()`` until :meth:`stop`.

    Arguments are those of :class:`transports.sync.Worker`. Functions may be
    ``async def`` (run as tasks) or plain ``def`` (run in threads); ``concurrency``
    bounds how many run at once.
    """

    @staticmethod
    async def _open(address: Address, ssl: _ssl.SSLContext | None) -> Stream:
        """Open a byte stream to ``address``: each flavour provides this."""
        raise NotImplementedError

    def _init_flavour(self) -> None:
        self._conns: list[_Conn] = []
        self._stopping = False
        self._stop_event: anyio.Event | None = None
        self._idle: anyio.Event | None = None
        self._loop_thread = 0
        self._tg: anyio.abc.TaskGroup | None = None

    def _registered(self, function: core.Function) -> None:
        for conn in self._conns:
            if conn.session is not None and conn.link is not None:
                conn.link.write(conn.session.register(function))

    def _start(self, job: Job, conn: _Conn) -> None:
        assert self._tg is not None
        self._running += 1
        if self._idle is not None and self._idle.is_set():
            self._idle = anyio.Event()
        self._tg.start_soon(self._run, job, conn)

    async def _run(self, job: Job, conn: _Conn) -> None:
        result: object = None
        error: BaseException | None = None
        try:
            callback = self._callback(job)
            if inspect.iscoroutinefunction(callback):
                result = await callback(job)
            else:
                result = await anyio.to_thread.run_sync(callback, job)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:
            log.info("job %r of %r raised %r", job.handle, job.function, exc)
            error = exc
        conn.finish(job._session, self._outcome(job, result, error))
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

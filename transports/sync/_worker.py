"""The blocking worker: one thread per job server, jobs on a thread pool."""

from __future__ import annotations

import logging
import select
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import gearproto

from .._core import worker as core
from .._core.api import JobBase, WorkerBase
from .._core.servers import Address
from . import _net

__all__ = ("Job", "Worker")

log = logging.getLogger("transports.worker")


class Job(JobBase):
    """A job being run by a worker function (on the worker's thread pool).

    Attributes:
        handle: The job handle.
        function: The function name (bytes).
        data: The workload (bytes).
        unique: The unique id the client gave (``b""`` if none).
        reducer: The reducer of a map/reduce job (``b""`` if none).
    """

    def __init__(self, info: core.JobInfo, conn: _Conn) -> None:
        super().__init__(info)
        self._conn = conn

    def _send(self, event: gearproto.Event) -> None:
        self._conn.send_update(event)


class _Conn:
    """The connection to one job server, re-established until the worker stops."""

    def __init__(self, worker: Worker, address: Address) -> None:
        self.worker = worker
        self.address = address
        self.lock = threading.Lock()
        self.sock: _net.Socket | None = None
        self.session: core.WorkerSession | None = None
        self.thread = threading.Thread(target=self.run, name=f"gearman-worker-{address}")

    def _send(self, data: bytes) -> None:
        """Under the lock."""
        if data and self.sock is not None:
            try:
                self.sock.sendall(data)
            except OSError as exc:
                log.warning("writing to %s failed: %s", self.address, exc)
                try:  # wake the reader; it closes the socket
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def send_update(self, event: gearproto.Event) -> None:
        with self.lock:
            if self.session is not None:
                self._send(self.session.update(event))

    def finish(self, session: core.WorkerSession, event: gearproto.Event) -> None:
        with self.lock:
            if self.session is session:
                self._send(session.finish(event))

    @property
    def grabbing(self) -> bool:
        """A GRAB is waiting for its answer."""
        session = self.session
        return session is not None and session.conn.worker_state is gearproto.WorkerState.GRABBING

    def kick(self) -> None:
        """A slot came free: grab if idle."""
        with self.lock:
            if self.session is not None:
                self._send(self.session.grab())

    def run(self) -> None:
        worker = self.worker
        delay = core.RECONNECT_MIN
        while not worker._closing.is_set():
            try:
                sock = _net.connect(self.address, worker._connect_timeout, worker._ssl)
            except OSError as exc:
                log.info("cannot connect to %s (%s); retrying in %.1f s", self.address, exc, delay)
                if worker._closing.wait(delay):
                    return
                delay = min(delay * 2, core.RECONNECT_MAX)
                continue
            delay = core.RECONNECT_MIN
            try:
                self._serve(sock)
            except (OSError, ValueError, gearproto.ProtocolError) as exc:
                log.warning("connection to %s failed: %r", self.address, exc)
            finally:
                with self.lock:
                    released = False
                    if self.session is not None:
                        self.session.lost()
                        released = self.session.released
                    self.session = None
                    self.sock = None
                _net.shutdown(sock)
                if released:  # an unanswered GRAB's slot came back
                    for conn in worker._conns:
                        if conn is not self:
                            conn.kick()
            if not worker._closing.is_set():
                log.info("lost %s; reconnecting", self.address)
                if worker._closing.wait(delay):
                    return

    def _serve(self, sock: _net.Socket) -> None:
        worker = self.worker
        session = worker._session(self.address, worker._stopping.is_set())
        with self.lock:
            self.sock = sock
            self.session = session
            self._send(session.handshake())
        wake = worker._wake_r
        poll = worker._poll_interval
        while True:
            timeout = session.poll_interval(poll)
            readable = select.select([sock, wake], [], [], timeout)[0]
            if worker._closing.is_set():
                return
            if sock not in readable:
                if not readable:  # the poll interval passed while sleeping
                    with self.lock:
                        self._send(session.poll())
                continue
            data = sock.recv(262144)
            with self.lock:
                out, jobs = session.receive(data)
                self._send(out)
            for info in jobs:
                worker._start(Job(info, self), session)
            if session.released:
                session.released = False
                for conn in worker._conns:
                    if conn is not self:
                        conn.kick()
            if session.closed:
                return


class Worker(WorkerBase[Job]):
    """A Gearman worker for blocking code.

    Args:
        servers: ``"host:port"``, ``"h1:p1,h2"`` or a list; the worker connects to every
            one and keeps working while some are down.
        client_id: Sent as SET_CLIENT_ID (``workers`` shows it).
        concurrency: How many jobs run at once (on a thread pool). The worker never
            grabs more jobs than it has free threads.
        grab_all: Use GRAB_JOB_ALL (gets the unique id and reducer) like libgearman;
            ``False`` (or a server that refuses it) uses plain GRAB_JOB.
        exceptions: A function that raises sends WORK_EXCEPTION with the error text
            (clients without the ``exceptions`` option see WORK_FAIL); ``False`` always
            sends WORK_FAIL.
        poll_interval: While asleep, grab again after this many seconds even without a
            NOOP (gearmand 1.1 never wakes workers when an epoch job falls due).
            With CAN_DO_TIMEOUT functions, at least as often as the shortest timeout.
        ssl: ``True``, or an :class:`ssl.SSLContext`, to speak TLS (``True``: a
            default context, which verifies the server's certificate).
        connect_timeout: Seconds to wait for each connection.
        max_packet_size: Largest packet accepted from a server.
    """

    def _init_flavour(self) -> None:
        self._conns: list[_Conn] = []
        self._stopping = threading.Event()
        self._closing = threading.Event()
        self._idle = threading.Condition()
        self._wake_r, self._wake_w = socket.socketpair()

    def _registered(self, function: core.Function) -> None:
        for conn in self._conns:
            with conn.lock:
                if conn.session is not None:
                    conn._send(conn.session.register(function))

    def _start(self, job: Job, session: core.WorkerSession) -> None:
        with self._idle:
            self._running += 1
        self._executor.submit(self._run, job, session)

    def _run(self, job: Job, session: core.WorkerSession) -> None:
        result: object = None
        error: BaseException | None = None
        try:
            result = self._callback(job)(job)
        except Exception as exc:
            log.info("job %r of %r raised %r", job.handle, job.function, exc)
            error = exc
        job._conn.finish(session, self._outcome(job, result, error))
        self._capacity.release()
        with self._idle:
            self._running -= 1
            self._idle.notify_all()
        for conn in self._conns:
            conn.kick()

    def work(self) -> None:
        """Serve jobs until :meth:`stop` (or Ctrl-C), then finish the running ones."""
        if not self._functions:
            raise ValueError("register at least one function before work()")
        self._stopping.clear()
        self._closing.clear()
        self._executor = ThreadPoolExecutor(self._capacity.limit, "gearman-job")
        self._conns = [_Conn(self, address) for address in self._pool.addresses]
        for conn in self._conns:
            conn.thread.start()
        try:
            while not self._stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            log.info("interrupted; finishing the running jobs")
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self._stopping.set()
        for conn in self._conns:
            with conn.lock:
                if conn.session is not None:
                    conn.session.stopping = True
        # Let running jobs end and unanswered GRABs be answered (a job assigned now
        # still runs), then close the connections.
        with self._idle:
            while self._running or any(c.grabbing for c in self._conns):
                self._idle.wait(0.05)
        self._closing.set()
        self._wake_w.send(b"x")
        for conn in self._conns:
            conn.thread.join()
        self._executor.shutdown(wait=True)
        self._wake_r.recv(1)
        self._conns = []

    def stop(self) -> None:
        """Stop grabbing jobs; :meth:`work` returns once the running jobs are done.

        Safe to call from a job, another thread or a signal handler.
        """
        self._stopping.set()

    def close(self) -> None:
        """Release the worker's wake-up socket pair."""
        self._wake_r.close()
        self._wake_w.close()

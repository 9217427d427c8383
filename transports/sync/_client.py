"""The blocking client: one socket and one reader thread per job server."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

import gearproto

from .._core import client as core
from .._core.api import ClientBase, TaskBase
from .._core.client import JobStatus, Reply, TaskState, Update
from .._core.convert import Data, PriorityName, to_bytes
from .._core.servers import Address
from .._errors import ConnectionLost, GearmanError, NoServersAvailable, Timeout
from . import _net

__all__ = ("Client", "Task")

log = logging.getLogger("transports.client")


class Task(TaskBase):
    """A submitted job: wait for its result, or follow its updates as they arrive."""

    def __init__(self, client: Client, state: TaskState) -> None:
        super().__init__(state)
        self._client = client

    def result(self, timeout: float | None = None) -> bytes:
        """Wait for the result (a background job: its handle).

        Raises:
            JobFailed: WORK_FAIL (or the job was lost).
            JobException: WORK_EXCEPTION; ``.data`` holds the worker's message.
            Timeout: nothing within ``timeout`` seconds (default: the client's).
        """
        self._client._wait([self._state], timeout, all_done=True)
        return self._state.outcome()

    def updates(self, timeout: float | None = None) -> Iterator[Update]:
        """Yield each update as it arrives, until the job finishes.

        Then :meth:`result` returns without waiting. ``timeout`` limits the whole wait.
        """
        deadline = self._client._deadline(timeout)
        seen = 0
        cond = self._client._cond
        while True:
            with cond:
                self._client._flush()
                while len(self._state.updates) == seen and not self._state.done:
                    if not cond.wait(_remaining(deadline)):
                        raise Timeout("no update within the timeout")
                fresh = self._state.updates[seen:]
                finished = self._state.done
            yield from fresh
            seen += len(fresh)
            if finished and seen == len(self._state.updates):
                return


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


class _Conn:
    """One job server connection: a socket, its session, and the thread that reads it.

    Writes follow Nagle's rule at the level of requests: a request goes out at once
    when no earlier one waits for its answer; otherwise it is held (in order) until
    that answer arrives, or until someone waits, whichever comes first. So the
    submits of a batch leave in one or two writes, and a lone submit is not delayed.
    """

    def __init__(self, client: Client, address: Address, sock: _net.Socket) -> None:
        self.sock = sock
        self.session = client._session(address)
        self.client = client
        self.lock = client._cond
        self.held = bytearray()
        with self.lock:
            self.sock.sendall(self.session.handshake())
        self.thread = threading.Thread(
            target=self._read, name=f"gearman-client-{address}", daemon=True
        )
        self.thread.start()

    def request(self, data: bytes, answers_due: bool) -> None:
        """Under the lock: send a request's bytes, or hold them (see the class)."""
        if answers_due or self.held:
            self.held += data
        else:
            self.send(data)

    def flush(self) -> None:
        """Under the lock: send what is held."""
        if self.held:
            data = bytes(self.held)
            self.held.clear()
            self.send(data)

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            self.session.conn.send_failed()
            self._lost(ConnectionLost(f"writing to {self.session.address} failed: {exc}"))

    def _read(self) -> None:
        sock, session, cond = self.sock, self.session, self.lock
        try:
            while True:
                data = sock.recv(262144)
                with cond:
                    session.receive(data)
                    if self.held and not session.closed:
                        self.flush()
                    if self.client._dirty:
                        self.client._dirty = False
                        cond.notify_all()
                    if not data or session.eof or session.closed:
                        break
        except (OSError, gearproto.ProtocolError) as exc:
            with cond:
                self._lost(ConnectionLost(f"connection to {session.address} failed: {exc}"))
        with cond:
            self._lost(ConnectionLost(f"job server {session.address} closed the connection"))

    def _lost(self, error: GearmanError) -> None:
        """Under the lock: forget this connection, resend what was never created."""
        client = self.client
        client._forget(self.session.address, self)
        self.held.clear()
        resend = self.session.lost(error)
        _net.shutdown(self.sock)
        for state in resend:
            client._submit_state(state)
        self.lock.notify_all()


class Client(ClientBase[_Conn]):
    """A Gearman client for blocking code.

    Args:
        servers: ``"host:port"``, ``"h1:p1,h2"`` (port 4730 by default) or a list;
            by default ``$GEARMAN_SERVERS``, else ``127.0.0.1:4730``.
        client_id: Sent as SET_CLIENT_ID on every connection (``workers`` shows it).
        timeout: Default timeout in seconds for every call (``None``: wait forever).
        connect_timeout: Seconds to wait for a TCP (and TLS) connection.
        exceptions: Ask servers to forward WORK_EXCEPTION (raised as
            :class:`~transports.JobException`) instead of WORK_FAIL.
        ssl: ``True``, or an :class:`ssl.SSLContext`, to speak TLS; ``True`` uses
            ``ssl.create_default_context()``, which verifies the server's certificate.
        max_packet_size: Largest packet accepted from a server.

    Jobs with a unique id go to the server chosen by hashing it; others are spread
    round robin. A server that fails backs off (1 s doubling to 60 s) and its
    unanswered submits are resent to the next one. The client is thread-safe; results
    and callbacks are delivered by one reader thread per server.
    """

    def _init_flavour(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        # Set (under the lock) when a task or reply changed: the reader wakes waiters.
        self._dirty = False

    def _mark(self) -> None:
        self._dirty = True

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection; unfinished jobs fail with ConnectionLost."""
        with self._cond:
            self._closed = True
            conns = list(self._conns.values())
            self._conns.clear()
            for conn in conns:
                conn._lost(ConnectionLost("the client was closed"))

    # ---------------------------------------------------------------- plumbing

    def _deadline(self, timeout: float | None) -> float | None:
        timeout = self._timeout_of(timeout)
        return None if timeout is None else time.monotonic() + timeout

    def _connection(self, address: Address) -> _Conn:
        """Under the lock: the open connection to ``address`` (connecting if needed)."""
        conn = self._conns.get(address)
        if conn is None:
            if self._closed:
                raise GearmanError("the client is closed")
            try:
                sock = _net.connect(address, self._connect_timeout, self._ssl)
            except OSError as exc:
                self._pool.failed(address)
                raise ConnectionLost(f"cannot connect to {address}: {exc}") from exc
            conn = self._conns[address] = _Conn(self, address, sock)
            self._pool.succeeded(address)
        return conn

    def _submit_state(self, state: TaskState) -> None:
        """Under the lock: send ``state`` to the first server that takes it."""
        order = self._pool.order(state.key)
        errors: list[str] = []
        for address in order:
            if state.attempts > len(order):
                break
            try:
                conn = self._connection(address)
            except ConnectionLost as exc:
                errors.append(str(exc))
                continue
            due = conn.session.answers_due
            conn.request(conn.session.submit(state), due)
            return
        state.fail(NoServersAvailable("; ".join(errors) or "every job server failed"))
        state.notify()

    def _flush(self) -> None:
        """Under the lock: send every request held back; someone waits now."""
        for conn in list(self._conns.values()):
            conn.flush()

    def _wait(self, states: Sequence[TaskState], timeout: float | None, all_done: bool) -> None:
        deadline = self._deadline(timeout)
        first = 0  # with all_done: the states before this one are done
        with self._cond:
            self._flush()
            while True:
                if all_done:
                    while first < len(states) and states[first].done:
                        first += 1
                    if first == len(states):
                        return
                elif any(s.done for s in states):
                    return
                if not self._cond.wait(_remaining(deadline)):
                    for state in states:
                        self._abandon(state)
                    raise Timeout("the job did not finish within the timeout")

    def _request(self, address: Address, event: gearproto.Event, timeout: float | None) -> Reply:
        deadline = self._deadline(timeout)
        reply = Reply()
        reply.notify = self._mark
        with self._cond:
            conn = self._connection(address)
            conn.request(conn.session.request(event, reply), conn.session.answers_due)
            conn.flush()
            while not reply.done:
                if not self._cond.wait(_remaining(deadline)):
                    raise Timeout(f"no answer from {address} within the timeout")
        return reply

    # ---------------------------------------------------------------- jobs

    def add_task(
        self,
        function: Data,
        data: Data = b"",
        *,
        unique: Data | None = None,
        priority: PriorityName = "normal",
        background: bool = False,
        epoch: float | None = None,
        on_update: Callable[[Update], None] | None = None,
    ) -> Task:
        """Submit a job without waiting for it; returns its :class:`Task`.

        The submit is sent at once when no earlier request on its connection awaits
        an answer; otherwise it leaves, with the rest of its batch, as soon as that
        answer arrives or a thread waits on this client, whichever comes first.

        ``on_update`` is called (from the reader thread) with each
        :class:`~transports.Update` as it arrives; it must not wait on this
        client. ``epoch`` (Unix seconds or a
        datetime) makes it a background job that does not run before then.
        """
        state = core.make_task(
            function,
            data,
            unique=unique,
            priority=priority,
            background=background,
            epoch=epoch,
            on_update=on_update,
        )
        state.notify = self._mark
        with self._cond:
            self._submit_state(state)
        return Task(self, state)

    def submit(
        self,
        function: Data,
        data: Data = b"",
        *,
        unique: Data | None = None,
        priority: PriorityName = "normal",
        timeout: float | None = None,
        on_update: Callable[[Update], None] | None = None,
    ) -> bytes:
        """Run a job and return its result (the WORK_COMPLETE data).

        Raises:
            JobFailed: the job failed (WORK_FAIL).
            JobException: the worker raised; ``.data`` is its message.
            ServerError: the server refused the job (e.g. its queue is full).
            Timeout: no result within ``timeout`` (default: the client's timeout).
        """
        task = self.add_task(function, data, unique=unique, priority=priority, on_update=on_update)
        return task.result(timeout)

    def submit_background(
        self,
        function: Data,
        data: Data = b"",
        *,
        unique: Data | None = None,
        priority: PriorityName = "normal",
        epoch: float | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """Queue a background job and return its handle once the server accepted it."""
        task = self.add_task(
            function, data, unique=unique, priority=priority, background=True, epoch=epoch
        )
        return task.result(timeout)

    def wait(
        self, tasks: Iterable[Task], timeout: float | None = None, *, return_when_any: bool = False
    ) -> list[Task]:
        """Wait until every task (or, with ``return_when_any``, one) is done.

        Returns the tasks that are done. Raises :class:`~transports.Timeout` if not
        within ``timeout``.
        """
        tasks = list(tasks)
        self._wait([t._state for t in tasks], timeout, all_done=not return_when_any)
        return [t for t in tasks if t.done]

    # ---------------------------------------------------------------- queries

    def get_status(self, handle: Data, *, timeout: float | None = None) -> JobStatus:
        """The status of a job by handle (asks the server that created it, or each)."""
        handle_b = to_bytes(handle, "handle")
        return self._status(gearproto.GetStatus(handle=handle_b), b"", timeout)

    def get_status_unique(self, unique: Data, *, timeout: float | None = None) -> JobStatus:
        """The status of a job by unique id (GET_STATUS_UNIQUE), across servers."""
        unique_b = to_bytes(unique, "unique")
        return self._status(gearproto.GetStatusUnique(unique=unique_b), unique_b, timeout)

    def _status(self, event: gearproto.Event, key: bytes, timeout: float | None) -> JobStatus:
        result: JobStatus | None = None
        errors: list[str] = []
        for address in self._pool.order(key):
            try:
                status = core.status_of(self._request(address, event, timeout).outcome())
            except (ConnectionLost, ConnectionError) as exc:
                errors.append(str(exc))
                continue
            if status.known:
                return status
            result = result or status
        if result is None:
            raise NoServersAvailable("; ".join(errors))
        return result

    def echo(self, data: Data = b"ping", *, timeout: float | None = None) -> bytes:
        """Send ECHO_REQ to the first reachable server and return the echoed bytes."""
        errors: list[str] = []
        for address in self._pool.order():
            try:
                reply = self._request(address, gearproto.EchoReq(data=to_bytes(data)), timeout)
            except ConnectionLost as exc:
                errors.append(str(exc))
                continue
            event = reply.outcome()
            assert isinstance(event, gearproto.EchoRes)
            return event.data
        raise NoServersAvailable("; ".join(errors))

"""The async client: one stream, one reader task and one writer task per job server."""

from __future__ import annotations

import logging
import ssl as _ssl
from collections.abc import AsyncIterator, Callable, Iterable

import anyio
import anyio.abc

import gearproto

from .._core import client as core
from .._core.api import ClientBase, TaskBase
from .._core.client import JobStatus, Reply, TaskState, Update
from .._core.convert import Data, PriorityName, to_bytes
from .._core.servers import Address
from .._errors import ConnectionLost, GearmanError, NoServersAvailable, Timeout
from ._stream import Link, Stream

__all__ = ("Client", "Task")

log = logging.getLogger("transports.client")


class _Signal:
    """Wake every waiter once per change (a resettable event).

    The event is made only when someone waits: most of the tasks of a batch are done
    before anyone looks at them, and then nothing is allocated.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: anyio.Event | None = None

    def __call__(self) -> None:
        event = self._event
        if event is not None:
            self._event = None
            event.set()

    async def wait(self) -> None:
        """Until the next call."""
        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()


class Task(TaskBase):
    """A submitted job: await its result, or iterate over its updates as they arrive."""

    def __init__(self, client: Client, state: TaskState) -> None:
        super().__init__(state)
        self._client = client
        self._signal = _Signal()
        state.notify = self._signal

    async def _wait_done(self) -> None:
        while not self._state.done:
            await self._signal.wait()

    async def result(self, timeout: float | None = None) -> bytes:
        """Wait for the result (a background job: its handle).

        Raises:
            JobFailed: WORK_FAIL (or the job was lost).
            JobException: WORK_EXCEPTION; ``.data`` holds the worker's message.
            Timeout: nothing within ``timeout`` seconds (default: the client's).
        """
        await self._client.wait([self], timeout)
        return self._state.outcome()

    async def updates(self, timeout: float | None = None) -> AsyncIterator[Update]:
        """Yield each update as it arrives, until the job finishes.

        ``timeout`` limits the whole wait (no cancel scope spans a ``yield``, so
        leaving the loop early is safe).
        """
        seen = 0
        state = self._state
        limit = self._client._timeout_of(timeout)
        deadline = None if limit is None else anyio.current_time() + limit
        while True:
            while len(state.updates) == seen and not state.done:
                remaining = None if deadline is None else deadline - anyio.current_time()
                try:
                    with anyio.fail_after(remaining):
                        await self._signal.wait()
                except TimeoutError:
                    raise Timeout("no update within the timeout") from None
            fresh = state.updates[seen:]
            seen += len(fresh)
            for update in fresh:
                yield update
            if state.done and seen == len(state.updates):
                return


class _Conn:
    def __init__(self, client: Client, address: Address, link: Link) -> None:
        self.client = client
        self.link = link
        self.session = client._session(address)
        link.write(self.session.handshake())

    async def reader(self) -> None:
        session, stream = self.session, self.link.stream
        error = ConnectionLost(f"job server {session.address} closed the connection")
        try:
            deliver = getattr(stream, "deliver", None)
            if deliver is not None:  # reads handed over by the event loop: no wake-up

                def feed(data: bytes) -> bool:
                    session.receive(data)
                    return session.eof or session.closed

                await deliver(feed)
            while not (session.eof or session.closed):
                session.receive(await stream.receive_some(262144))
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:
            error = ConnectionLost(f"connection to {session.address} failed: {exc!r}")
        with anyio.CancelScope(shield=True):
            await self.lost(error)

    async def lost(self, error: GearmanError) -> None:
        client = self.client
        client._forget(self.session.address, self)
        resend = self.session.lost(error)
        self.link.broken = True
        self.scope.cancel()
        await self.link.stream.aclose()
        for state in resend:
            await client._submit_state(state)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        with anyio.CancelScope() as self.scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.link.writer)
                task_status.started()
                await self.reader()
                tg.cancel_scope.cancel()


class Client(ClientBase[_Conn]):
    """A Gearman client for async code; use it as ``async with Client(...) as client``.

    Arguments, server choice, failover and back-off are those of
    :class:`transports.sync.Client`.
    """

    @staticmethod
    async def _open(address: Address, ssl: _ssl.SSLContext | None) -> Stream:
        """Open a byte stream to ``address``: each flavour provides this."""
        raise NotImplementedError

    def _init_flavour(self) -> None:
        self._connecting: dict[Address, anyio.Event] = {}
        self._tg: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> Client:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
        assert self._tg is not None
        self._tg.cancel_scope.cancel()
        # The body's own exception propagates as is, not wrapped in a group.
        await self._tg.__aexit__(None, None, None)
        self._tg = None

    async def aclose(self) -> None:
        """Close every connection; unfinished jobs fail with ConnectionLost."""
        self._closed = True
        for conn in list(self._conns.values()):
            with anyio.CancelScope(shield=True):
                await conn.lost(ConnectionLost("the client was closed"))
        self._conns.clear()

    async def _connection(self, address: Address) -> _Conn:
        while True:
            conn = self._conns.get(address)
            if conn is not None:
                return conn
            if self._closed or self._tg is None:
                raise GearmanError("use the client as 'async with Client(...) as client'")
            pending = self._connecting.get(address)
            if pending is None:
                break
            await pending.wait()
        done = self._connecting[address] = anyio.Event()
        try:
            with anyio.fail_after(self._connect_timeout):
                stream = await self._open(address, self._ssl)
        except (OSError, TimeoutError) as exc:
            self._pool.failed(address)
            raise ConnectionLost(f"cannot connect to {address}: {exc!r}") from exc
        finally:
            del self._connecting[address]
            done.set()
        self._pool.succeeded(address)
        conn = self._conns[address] = _Conn(self, address, Link(stream))
        await self._tg.start(conn.run)
        if conn.session.closed:
            # The server hung up at once (e.g. it refused our TLS client certificate):
            # a request written now would wait for an answer that never comes.
            raise ConnectionLost(f"job server {address} closed the connection")
        return conn

    async def _submit_state(self, state: TaskState, order: list[Address] | None = None) -> None:
        if order is None:
            order = self._pool.order(state.key)
        errors: list[str] = []
        for address in order:
            if state.attempts > len(order):
                break
            try:
                conn = await self._connection(address)
            except ConnectionLost as exc:
                errors.append(str(exc))
                continue
            now = not conn.session.answers_due
            conn.link.write(conn.session.submit(state), now)
            return
        state.fail(NoServersAvailable("; ".join(errors) or "every job server failed"))
        state.notify()

    async def _request(
        self, address: Address, event: gearproto.Event, timeout: float | None
    ) -> Reply:
        reply = Reply()
        signal = _Signal()
        reply.notify = signal
        try:
            with anyio.fail_after(self._timeout_of(timeout)):
                conn = await self._connection(address)
                now = not conn.session.answers_due
                conn.link.write(conn.session.request(event, reply), now)
                while not reply.done:
                    await signal.wait()
        except TimeoutError:
            raise Timeout(f"no answer from {address} within the timeout") from None
        return reply

    # ---------------------------------------------------------------- jobs

    async def add_task(
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

        The submit is written at once when no earlier request on its connection awaits
        an answer; otherwise it is written with the others of its batch when the
        calling task next waits (for a result, or anything else).
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
        task = Task(self, state)
        order = self._pool.order(state.key)
        conn = self._conns.get(order[0])
        if conn is not None:  # the common case, without a coroutine
            now = not conn.session.answers_due
            conn.link.write(conn.session.submit(state), now)
        else:
            await self._submit_state(state, order)
        return task

    async def submit(
        self,
        function: Data,
        data: Data = b"",
        *,
        unique: Data | None = None,
        priority: PriorityName = "normal",
        timeout: float | None = None,
        on_update: Callable[[Update], None] | None = None,
    ) -> bytes:
        """Run a job and return its result (see :meth:`transports.sync.Client.submit`)."""
        task = await self.add_task(
            function, data, unique=unique, priority=priority, on_update=on_update
        )
        return await task.result(timeout)

    async def submit_background(
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
        task = await self.add_task(
            function, data, unique=unique, priority=priority, background=True, epoch=epoch
        )
        return await task.result(timeout)

    async def wait(
        self, tasks: Iterable[Task], timeout: float | None = None, *, return_when_any: bool = False
    ) -> list[Task]:
        """Wait until every task (or, with ``return_when_any``, one) is done."""
        tasks = list(tasks)
        limit = self._timeout_of(timeout)
        if limit is None and not return_when_any:  # the common case, without a scope
            for task in tasks:
                await task._wait_done()
            return tasks
        try:
            with anyio.fail_after(limit):
                if return_when_any:
                    async with anyio.create_task_group() as tg:

                        async def first(task: Task) -> None:
                            await task._wait_done()
                            tg.cancel_scope.cancel()

                        for task in tasks:
                            tg.start_soon(first, task)
                else:
                    for task in tasks:
                        await task._wait_done()
        except TimeoutError:
            for task in tasks:
                self._abandon(task._state)
            raise Timeout("the job did not finish within the timeout") from None
        return [t for t in tasks if t.done]

    # ---------------------------------------------------------------- queries

    async def get_status(self, handle: Data, *, timeout: float | None = None) -> JobStatus:
        """The status of a job by handle."""
        event = gearproto.GetStatus(handle=to_bytes(handle, "handle"))
        return await self._status(event, b"", timeout)

    async def get_status_unique(self, unique: Data, *, timeout: float | None = None) -> JobStatus:
        """The status of a job by unique id (GET_STATUS_UNIQUE), across servers."""
        unique_b = to_bytes(unique, "unique")
        return await self._status(gearproto.GetStatusUnique(unique=unique_b), unique_b, timeout)

    async def _status(
        self, event: gearproto.Event, key: bytes, timeout: float | None
    ) -> JobStatus:
        result: JobStatus | None = None
        errors: list[str] = []
        for address in self._pool.order(key):
            try:
                reply = await self._request(address, event, timeout)
                status = core.status_of(reply.outcome())
            except ConnectionLost as exc:
                errors.append(str(exc))
                continue
            if status.known:
                return status
            result = result or status
        if result is None:
            raise NoServersAvailable("; ".join(errors))
        return result

    async def echo(self, data: Data = b"ping", *, timeout: float | None = None) -> bytes:
        """Send ECHO_REQ to the first reachable server and return the echoed bytes."""
        errors: list[str] = []
        for address in self._pool.order():
            try:
                reply = await self._request(
                    address, gearproto.EchoReq(data=to_bytes(data)), timeout
                )
            except ConnectionLost as exc:
                errors.append(str(exc))
                continue
            event = reply.outcome()
            assert isinstance(event, gearproto.EchoRes)
            return event.data
        raise NoServersAvailable("; ".join(errors))

"""The flavour-independent half of the public classes: settings, properties, arguments.

``transports.sync`` and ``transports._async`` subclass these and add only what waits
or moves bytes, so a setting, a property or a docstring is written once.
"""

from __future__ import annotations

import ssl as _ssl
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import gearproto

from .._errors import Timeout
from .client import ClientSession, TaskState, Update
from .convert import Data, tls_context, to_bytes
from .servers import Address, ServerPool, Servers, parse_servers
from .worker import Capacity, Function, JobInfo, WorkerSession, outcome

__all__ = ("AdminBase", "ClientBase", "JobBase", "TaskBase", "WorkerBase")

F = TypeVar("F", bound=Callable[..., Any])
J = TypeVar("J", bound="JobBase")


class _Connected(Protocol):
    @property
    def session(self) -> ClientSession: ...


C = TypeVar("C", bound=_Connected)


class AdminBase:
    """An admin connection's settings."""

    def __init__(
        self,
        server: Servers | None = None,
        *,
        timeout: float | None = 10.0,
        ssl: _ssl.SSLContext | bool | None = None,
    ) -> None:
        self.address = parse_servers(server)[0]
        self._timeout = timeout
        self._ssl = tls_context(ssl)
        self._conn = gearproto.Connection(gearproto.CLIENT)
        self._init_flavour()

    def _init_flavour(self) -> None:
        """Create what the flavour connects and waits with."""


class TaskBase:
    """What a task knows without waiting."""

    def __init__(self, state: TaskState) -> None:
        self._state = state

    @property
    def handle(self) -> bytes | None:
        """The job handle, once the server created the job."""
        return self._state.handle

    @property
    def done(self) -> bool:
        """Whether the job finished (for a background job: was created)."""
        return self._state.done

    @property
    def updates_so_far(self) -> list[Update]:
        """Every WORK_DATA, WORK_WARNING and WORK_STATUS received until now."""
        return list(self._state.updates)

    @property
    def progress(self) -> tuple[int, int]:
        """The numerator and denominator of the last WORK_STATUS."""
        return self._state.numerator, self._state.denominator


class ClientBase(Generic[C]):
    """A client's settings, and what it does with them without I/O."""

    def __init__(
        self,
        servers: Servers | None = None,
        *,
        client_id: Data | None = None,
        timeout: float | None = None,
        connect_timeout: float = 5.0,
        exceptions: bool = True,
        ssl: _ssl.SSLContext | bool | None = None,
        max_packet_size: int = gearproto.DEFAULT_MAX_PACKET_SIZE,
    ) -> None:
        self._pool = ServerPool(parse_servers(servers))
        self._client_id = to_bytes(client_id, "client_id")
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._exceptions = exceptions
        self._ssl = tls_context(ssl)
        self._max_packet_size = max_packet_size
        self._conns: dict[Address, C] = {}
        self._closed = False
        self._init_flavour()

    def _init_flavour(self) -> None:
        """Create what the flavour waits with."""

    @property
    def servers(self) -> tuple[Address, ...]:
        """The job servers, in the order given."""
        return self._pool.addresses

    def _timeout_of(self, timeout: float | None) -> float | None:
        return self._timeout if timeout is None else timeout

    def _session(self, address: Address) -> ClientSession:
        return ClientSession(
            address,
            client_id=self._client_id,
            exceptions=self._exceptions,
            max_packet_size=self._max_packet_size,
        )

    def _forget(self, address: Address, conn: C) -> None:
        """``conn`` to ``address`` is gone: drop it, and back off unless closing."""
        if self._conns.get(address) is conn:
            del self._conns[address]
            if not self._closed:
                self._pool.failed(address)

    def _abandon(self, state: TaskState) -> None:
        """Fail a task that timed out; its results, if any come, go nowhere."""
        if state.done:
            return
        state.fail(Timeout("the job did not finish within the timeout"))
        if state.server is not None and (conn := self._conns.get(state.server)) is not None:
            conn.session.detach(state)


class JobBase:
    """A job's details, and the updates it sends through the flavour's ``_send``."""

    def __init__(self, info: JobInfo) -> None:
        self.handle = info.handle
        self.function = info.function
        self.data = info.data
        self.unique = info.unique
        self.reducer = info.reducer
        self._failed = False

    @property
    def text(self) -> str:
        """The workload decoded as UTF-8."""
        return self.data.decode("utf-8")

    def _send(self, event: gearproto.Event) -> None:
        raise NotImplementedError

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


class WorkerBase(Generic[J]):
    """A worker's settings and functions, and what it does with them without I/O."""

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
        self._capacity = Capacity(concurrency)
        self._grab_all = grab_all
        self._exceptions = exceptions
        self._poll_interval = poll_interval
        self._ssl = tls_context(ssl)
        self._connect_timeout = connect_timeout
        self._max_packet_size = max_packet_size
        self._functions: dict[bytes, Function] = {}
        self._callbacks: dict[bytes, Callable[[J], Any]] = {}
        self._running = 0
        self._init_flavour()

    def _init_flavour(self) -> None:
        """Create what the flavour waits with."""

    def register(
        self, name: Data, function: Callable[[J], Any], *, timeout: float | None = None
    ) -> None:
        """Register ``function`` under ``name``; ``timeout`` (seconds) sends CAN_DO_TIMEOUT.

        The function gets a :class:`Job` and returns the result (``bytes``, ``str`` or
        ``None``). If it raises, the job fails (see ``exceptions``) and the worker goes on.
        """
        name_b = to_bytes(name, "name")
        fn = Function(name_b, timeout)
        self._functions[name_b] = fn
        self._callbacks[name_b] = function
        self._registered(fn)

    def _registered(self, function: Function) -> None:
        """Announce a function registered while working (CAN_DO on each connection)."""
        raise NotImplementedError

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

    def _session(self, address: Address, stopping: bool) -> WorkerSession:
        session = WorkerSession(
            address,
            list(self._functions.values()),
            self._capacity,
            client_id=self._client_id,
            grab_all=self._grab_all,
            max_packet_size=self._max_packet_size,
        )
        session.stopping = stopping
        return session

    def _callback(self, job: J) -> Callable[[J], Any]:
        try:
            return self._callbacks[job.function]
        except KeyError:
            raise LookupError(f"no function {job.function!r} registered") from None

    def _outcome(self, job: J, result: object, error: BaseException | None) -> gearproto.Event:
        return outcome(job.handle, result, error, failed=job._failed, exceptions=self._exceptions)

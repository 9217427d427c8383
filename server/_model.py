"""The scheduler's data model: jobs, functions and connections (peers).

Plain classes with ``__slots__``: a queued job costs a few hundred bytes plus its data.
"""

from __future__ import annotations

from collections import deque
from typing import Final

__all__ = (
    "DONE",
    "FUTURE",
    "IGNORED",
    "NO_CLIENTS",
    "QUEUED",
    "RUNNING",
    "Function",
    "Job",
    "Peer",
)

#: Job states.
QUEUED: Final = 0  # waiting in its function's queue
RUNNING: Final = 1  # assigned to a worker
FUTURE: Final = 2  # an epoch job that is not due yet
IGNORED: Final = 3  # a queued job nobody waits for any more (a tombstone in its queue)
DONE: Final = 4  # finished, cancelled or dropped


#: The ``clients`` of a job nobody waits for, shared by every such job (a list per
#: job would be 72 of the few hundred bytes a queued background job costs): never
#: append to it, replace it (see :func:`attach`).
NO_CLIENTS: Final[list[Peer]] = []


class Job:
    """One job the server holds."""

    __slots__ = (
        "background",
        "clients",
        "data",
        "denominator",
        "function",
        "handle",
        "ignored",
        "numerator",
        "persisted",
        "priority",
        "reducer",
        "retries",
        "state",
        "timer",
        "unique",
        "when",
        "worker",
    )

    def __init__(
        self,
        handle: bytes,
        function: Function,
        unique: bytes,
        data: bytes,
        priority: int,
        background: bool,
        when: int = 0,
        reducer: bytes = b"",
    ) -> None:
        self.handle = handle
        self.function = function
        self.unique = unique
        self.data = data
        self.priority = priority
        self.background = background
        self.when = when
        self.reducer = reducer
        #: Attached foreground clients, oldest first (a peer may appear twice).
        self.clients: list[Peer] = NO_CLIENTS
        self.worker: Peer | None = None
        self.state = QUEUED
        self.retries = 0
        self.numerator = 0
        self.denominator = 0
        #: Running, but every client left or it was cancelled: results go nowhere.
        self.ignored = False
        self.persisted = False
        #: Token of the armed CAN_DO_TIMEOUT timer (0: none).
        self.timer = 0


def attach(job: Job, peer: Peer) -> None:
    """Add ``peer`` to the clients of ``job`` (the shared empty list is never changed)."""
    if job.clients:
        job.clients.append(peer)
    else:
        job.clients = [peer]


class Function:
    """A function name with its three queues, counters and worker registrations."""

    __slots__ = (
        "by_data",
        "future",
        "live",
        "max_queue",
        "name",
        "queues",
        "running",
        "sleepers",
        "total",
        "uniques",
        "worker_count",
        "workers",
    )

    def __init__(self, name: bytes) -> None:
        self.name = name
        #: HIGH, NORMAL and LOW queues; they may hold IGNORED tombstones.
        self.queues: tuple[deque[Job], deque[Job], deque[Job]] = (deque(), deque(), deque())
        #: Runnable (QUEUED) jobs per priority.
        self.live = [0, 0, 0]
        #: Epoch jobs not yet due, per priority.
        self.future = [0, 0, 0]
        #: Jobs held: queued, future and running.
        self.total = 0
        self.running = 0
        self.max_queue = [0, 0, 0]
        #: Registered workers and how many times each registered this function.
        self.workers: dict[Peer, int] = {}
        self.worker_count = 0
        #: Workers that may be asleep (checked when popped), longest asleep first.
        self.sleepers: dict[Peer, None] = {}
        #: Coalescing: unique -> job, and data -> job for the unique ``-``.
        self.uniques: dict[bytes, Job] = {}
        self.by_data: dict[bytes, Job] = {}


class Peer:
    """One connection, whatever it does: client, worker, admin, or all three."""

    __slots__ = (
        "address",
        "attached",
        "cid",
        "client_id",
        "exceptions",
        "fd",
        "jobs",
        "last_exception",
        "noop_sent",
        "order",
        "sleeping",
        "timeouts",
    )

    def __init__(self, cid: int, fd: int, address: bytes, exceptions: bool) -> None:
        self.cid = cid
        self.fd = fd
        self.address = address
        self.client_id = b"-"
        self.exceptions = exceptions
        #: Registered functions in round-robin order (dict order) with their sequence.
        self.order: dict[Function, int] = {}
        #: CAN_DO_TIMEOUT per function, in seconds.
        self.timeouts: dict[Function, float] = {}
        #: Jobs assigned to this worker, by handle.
        self.jobs: dict[bytes, Job] = {}
        #: Jobs this client waits for, with how many times it is attached.
        self.attached: dict[Job, int] = {}
        self.sleeping = False
        self.noop_sent = False
        #: The handle this worker last ended with WORK_EXCEPTION (Perl follows it with
        #: a WORK_FAIL for the same handle, which is swallowed instead of refused).
        self.last_exception = b""

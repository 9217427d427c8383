"""The exceptions every flavour raises, shared so ``except`` clauses work everywhere."""

from __future__ import annotations

__all__ = (
    "AdminCommandError",
    "ConnectionLost",
    "GearmanError",
    "JobException",
    "JobFailed",
    "NoServersAvailable",
    "ServerError",
    "Timeout",
)


class GearmanError(Exception):
    """Base class of every error raised by :mod:`transports`."""


class JobFailed(GearmanError):
    """The job failed: the server sent WORK_FAIL (or the worker raised).

    Raise it from a worker function to make the job fail without an exception message.
    """

    def __init__(self, message: str = "the job failed", *, handle: bytes | None = None) -> None:
        super().__init__(message)
        #: The job handle, when known.
        self.handle = handle


class JobException(JobFailed):
    """The worker raised an exception; :attr:`data` is what it sent (WORK_EXCEPTION)."""

    def __init__(self, data: bytes, *, handle: bytes | None = None) -> None:
        super().__init__(data.decode("utf-8", "replace") or "the worker raised", handle=handle)
        #: The exception description sent by the worker.
        self.data = data


class ServerError(GearmanError):
    """The job server answered a request with an ERROR packet."""

    def __init__(self, code: bytes, text: bytes) -> None:
        super().__init__(f"{code.decode('ascii', 'replace')}: {text.decode('utf-8', 'replace')}")
        #: The error code, e.g. ``b"QUEUE_ERROR"``.
        self.code = code
        #: The server's explanation.
        self.text = text


class AdminCommandError(GearmanError):
    """An admin command was answered with ``ERR <code> <text>``."""

    def __init__(self, code: bytes, text: bytes) -> None:
        super().__init__(f"{code.decode('ascii', 'replace')} {text.decode('utf-8', 'replace')}")
        #: The error code, e.g. ``b"UNKNOWN_JOB"``.
        self.code = code
        #: The rest of the line.
        self.text = text


class ConnectionLost(GearmanError):
    """The connection to the job server was lost while a job's result was awaited.

    The job may still run on that server; its result cannot reach this client.
    """


class NoServersAvailable(GearmanError):
    """No job server could be reached (every one refused, or is backing off)."""


class Timeout(GearmanError, TimeoutError):
    """A call did not finish within its timeout."""

"""The Gearman client, worker and admin APIs for blocking sockets, asyncio and trio.

Pick the flavour that matches your code: :mod:`transports.sync`,
:mod:`transports.asyncio` or :mod:`transports.trio`. They share their names,
arguments and behaviour; the exceptions and result types below are common to all.
"""

from ._core.client import JobStatus, Update
from ._core.servers import Address
from ._errors import (
    AdminCommandError,
    ConnectionLost,
    GearmanError,
    JobException,
    JobFailed,
    NoServersAvailable,
    ServerError,
    Timeout,
)

__all__ = (
    "Address",
    "AdminCommandError",
    "ConnectionLost",
    "GearmanError",
    "JobException",
    "JobFailed",
    "JobStatus",
    "NoServersAvailable",
    "ServerError",
    "Timeout",
    "Update",
)

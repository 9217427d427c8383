"""Client, Worker and Admin for blocking code (sockets and threads).

.. code-block:: python

    from transports.sync import Client, Worker

    worker = Worker("127.0.0.1:4730")

    @worker.function("reverse")
    def reverse(job):
        return job.data[::-1]

    worker.work()  # until worker.stop()
"""

from .._core.client import JobStatus, Update
from .._core.servers import Address
from .._errors import (
    AdminCommandError,
    ConnectionLost,
    GearmanError,
    JobException,
    JobFailed,
    NoServersAvailable,
    ServerError,
    Timeout,
)
from ._admin import Admin
from ._client import Client, Task
from ._worker import Job, Worker

__all__ = (
    "Address",
    "Admin",
    "AdminCommandError",
    "Client",
    "ConnectionLost",
    "GearmanError",
    "Job",
    "JobException",
    "JobFailed",
    "JobStatus",
    "NoServersAvailable",
    "ServerError",
    "Task",
    "Timeout",
    "Update",
    "Worker",
)

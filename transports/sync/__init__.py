"""Client, Worker and Admin for blocking code (sockets and threads).

.. code-block:: python

    from transports.sync import Client, Worker

    worker = Worker("127.0.0.1:4730")

    @worker.function("reverse")
    def reverse(job):
        return job.data[::-1]

    worker.work()  # until worker.stop()
"""

from .. import *  # noqa: F403 (the exceptions and result types of every flavour)
from .. import __all__ as _shared
from ._admin import Admin
from ._client import Client, Task
from ._worker import Job, Worker

__all__ = (*_shared, "Admin", "Client", "Job", "Task", "Worker")

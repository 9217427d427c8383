"""The five-minute tour, step 2: a worker for ``reverse``. Stop it with Ctrl-C."""

from __future__ import annotations

import sys

from transports.sync import Job, Worker

worker = Worker(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:4730")


@worker.function("reverse")
def reverse(job: Job) -> bytes:
    """Return the workload backwards."""
    return job.data[::-1]


if __name__ == "__main__":
    try:
        worker.work()  # runs jobs until worker.stop() or Ctrl-C
    except KeyboardInterrupt:
        worker.stop()

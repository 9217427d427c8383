"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def reverse(job: Any) -> bytes:
    """The tutorial's worker function."""
    return bytes(job.data[::-1])


def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it is true, failing the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def wait_handles(tasks: list[Any]) -> None:
    """Wait until every task got its JOB_CREATED."""
    wait_until(lambda: all(t.handle is not None for t in tasks))

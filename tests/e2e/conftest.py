"""Fixtures for the end-to-end suite: our clients and workers against our server.

The flavour machinery is the one of tests/transports (every test runs once per
flavour); the server is ours, started as a subprocess on a free loopback port.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.peers import RunningServer
from tests.server.proc import run_ours
from tests.transports.conftest import fl

__all__ = ["fl", "ours"]


@pytest.fixture
def ours() -> Iterator[RunningServer]:
    """Our job server (in-memory queue) on a free loopback port.

    Its backend is asyncio, or ``$GEARPROTO_E2E_BACKEND`` (``trio``) to run the suite
    against the other one.
    """
    backend = os.environ.get("GEARPROTO_E2E_BACKEND", "asyncio")
    with run_ours(f"--backend={backend}") as server:
        yield server

"""Fixtures for the transports suite: every test runs once per flavour."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peers import RunningServer, run_gearmand
from tests.server.proc import run_ours

from .flavours import FLAVOURS, Flavour, flavour


@pytest.fixture(params=FLAVOURS)
def fl(request: pytest.FixtureRequest) -> Iterator[Flavour]:
    """The flavour under test (sync, asyncio or trio) behind one blocking API."""
    with flavour(request.param) as f:
        yield f


@pytest.fixture(params=["gearmand", "gearproto-server"])
def server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """A job server: the real gearmand (``-t 1``), then ours; both on a free port."""
    if request.param == "gearmand":
        with run_gearmand("--threads=1") as running:
            yield running
    else:
        with run_ours() as running:
            yield running

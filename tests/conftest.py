"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peers import RunningServer, run_gearmand
from tests.server.proc import run_ours


@pytest.fixture
def gearmand() -> Iterator[RunningServer]:
    """A fresh real gearmand (``-t 1``) on a free loopback port."""
    with run_gearmand("--threads=1") as server:
        yield server


@pytest.fixture(params=[pytest.param("gearmand", marks=pytest.mark.gearmand), "gearproto-server"])
def server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """A job server: the real gearmand (``-t 1``), then ours; both on a free port."""
    if request.param == "gearmand":
        with run_gearmand("--threads=1") as running:
            yield running
    else:
        with run_ours() as running:
            yield running

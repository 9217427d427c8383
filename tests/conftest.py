"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peers import RunningServer, run_gearmand


@pytest.fixture
def gearmand() -> Iterator[RunningServer]:
    """A fresh real gearmand (``-t 1``) on a free loopback port."""
    with run_gearmand("--threads=1") as server:
        yield server

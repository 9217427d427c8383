"""Fixtures for the transports suite: every test runs once per flavour."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .flavours import FLAVOURS, Flavour, flavour


@pytest.fixture(params=FLAVOURS)
def fl(request: pytest.FixtureRequest) -> Iterator[Flavour]:
    """The flavour under test (sync, asyncio or trio) behind one blocking API."""
    with flavour(request.param) as f:
        yield f

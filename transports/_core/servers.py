"""Server addresses, and the choice of a server for each job (hashing, round robin, back-off)."""

from __future__ import annotations

import itertools
import os
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

__all__ = ("DEFAULT_PORT", "Address", "ServerPool", "Servers", "parse_servers")

#: Gearman's IANA port.
DEFAULT_PORT: Final = 4730
#: First back-off after a server fails, in seconds; it doubles per failure.
BACKOFF_BASE: Final = 1.0
#: Longest back-off, in seconds (Perl's Gearman::Client caps at 90 s).
BACKOFF_CAP: Final = 60.0


@dataclass(frozen=True, order=True)
class Address:
    """A job server's host and port."""

    host: str
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


#: What users pass as servers: ``"h1:p1,h2"``, one address, or a list of them.
Servers: TypeAlias = "str | Address | tuple[str, int] | Sequence[str | Address | tuple[str, int]]"


def _parse_one(text: str) -> Address:
    text = text.strip()
    if not text:
        raise ValueError("empty server address")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    try:
        return Address(host, int(port) if port else DEFAULT_PORT)
    except ValueError:
        raise ValueError(f"bad server address {text!r}") from None


def parse_servers(servers: Servers | None) -> list[Address]:
    """Addresses from ``"h1:p1,h2"`` (port 4730 by default), an address, or a list.

    ``None`` means ``$GEARMAN_SERVERS`` (as libgearman reads it), else 127.0.0.1:4730.
    """
    if servers is None:
        servers = os.environ.get("GEARMAN_SERVERS") or f"127.0.0.1:{DEFAULT_PORT}"
    items: Iterable[str | Address | tuple[str, int]]
    if isinstance(servers, (str, Address)) or (
        isinstance(servers, tuple) and len(servers) == 2 and isinstance(servers[1], int)
    ):
        items = [servers]
    else:
        items = servers
    result: list[Address] = []
    for item in items:
        if isinstance(item, Address):
            result.append(item)
        elif isinstance(item, tuple):
            result.append(Address(item[0], int(item[1])))
        else:
            result.extend(_parse_one(part) for part in item.split(",") if part.strip())
    if not result:
        raise ValueError("no job servers given")
    return list(dict.fromkeys(result))


class ServerPool:
    """Which server a job goes to, and which servers are backing off after a failure.

    A job with a unique id always goes to the same server (CRC32 of the unique, as
    Perl's Gearman::Client does), so coalescing works across clients; jobs without one
    are spread round robin. Servers that failed are tried last, until their back-off
    (1 s, doubling per failure, at most 60 s) has passed.
    """

    def __init__(
        self,
        addresses: Sequence[Address],
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff_base: float = BACKOFF_BASE,
        backoff_cap: float = BACKOFF_CAP,
    ) -> None:
        self.addresses: tuple[Address, ...] = tuple(addresses)
        self._clock = clock
        self._base = backoff_base
        self._cap = backoff_cap
        self._rr = itertools.count()
        self._failures: dict[Address, int] = {}
        self._dead_until: dict[Address, float] = {}

    def order(self, unique: bytes = b"") -> list[Address]:
        """The servers to try for a job, best first."""
        addresses = self.addresses
        n = len(addresses)
        start = (zlib.crc32(unique) if unique else next(self._rr)) % n
        ring = addresses[start:] + addresses[:start]
        if not self._dead_until:
            return list(ring)
        now = self._clock()
        alive = [a for a in ring if self._dead_until.get(a, 0.0) <= now]
        dead = sorted((a for a in ring if a not in alive), key=lambda a: self._dead_until[a])
        return alive + dead

    def backing_off(self, address: Address) -> bool:
        """``True`` while ``address`` is in its back-off period."""
        return self._dead_until.get(address, 0.0) > self._clock()

    def failed(self, address: Address) -> float:
        """Record a failure of ``address``; returns its back-off in seconds."""
        count = self._failures.get(address, 0) + 1
        self._failures[address] = count
        delay = min(self._cap, self._base * float(2 ** min(count - 1, 30)))
        self._dead_until[address] = self._clock() + delay
        return delay

    def succeeded(self, address: Address) -> None:
        """Record that ``address`` works again."""
        self._failures.pop(address, None)
        self._dead_until.pop(address, None)

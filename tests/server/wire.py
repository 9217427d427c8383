"""Byte-level helpers: hand-built packets, a raw socket peer, an in-process server."""

from __future__ import annotations

import contextlib
import struct
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from server import Server, ServerOptions, Store

ROOT = Path(__file__).resolve().parents[2]
PREFIX = b"H:t"


def pkt(magic: bytes, ptype: int, *fields: bytes) -> bytes:
    payload = b"\0".join(fields)
    return magic + struct.pack(">II", ptype, len(payload)) + payload


def req(ptype: int, *fields: bytes) -> bytes:
    """A packet to the server (``\\0REQ``); fields are joined with NULs."""
    return pkt(b"\0REQ", ptype, *fields)


def res(ptype: int, *fields: bytes) -> bytes:
    """A packet from the server (``\\0RES``)."""
    return pkt(b"\0RES", ptype, *fields)


# packet numbers
CAN_DO, CANT_DO, RESET_ABILITIES, PRE_SLEEP, UNUSED, NOOP = 1, 2, 3, 4, 5, 6
SUBMIT_JOB, JOB_CREATED, GRAB_JOB, NO_JOB, JOB_ASSIGN = 7, 8, 9, 10, 11
WORK_STATUS, WORK_COMPLETE, WORK_FAIL, GET_STATUS, ECHO_REQ, ECHO_RES = 12, 13, 14, 15, 16, 17
SUBMIT_JOB_BG, ERROR, STATUS_RES, SUBMIT_JOB_HIGH, SET_CLIENT_ID = 18, 19, 20, 21, 22
CAN_DO_TIMEOUT, ALL_YOURS, WORK_EXCEPTION, OPTION_REQ, OPTION_RES = 23, 24, 25, 26, 27
WORK_DATA, WORK_WARNING, GRAB_JOB_UNIQ, JOB_ASSIGN_UNIQ, SUBMIT_JOB_HIGH_BG = 28, 29, 30, 31, 32
SUBMIT_JOB_LOW, SUBMIT_JOB_LOW_BG, SUBMIT_JOB_SCHED, SUBMIT_JOB_EPOCH = 33, 34, 35, 36
SUBMIT_REDUCE_JOB, SUBMIT_REDUCE_JOB_BACKGROUND, GRAB_JOB_ALL, JOB_ASSIGN_ALL = 37, 38, 39, 40
GET_STATUS_UNIQUE, STATUS_RES_UNIQUE = 41, 42


def h(n: int) -> bytes:
    """The handle of the n-th job of a test server."""
    return PREFIX + b":%d" % n


class Raw:
    """A raw TCP peer: send bytes, receive whole packets or text as bytes."""

    def __init__(self, stream: anyio.abc.SocketStream) -> None:
        self.stream = stream
        self.buf = b""

    async def send(self, *data: bytes) -> None:
        await self.stream.send(b"".join(data))

    async def _fill(self, n: int) -> None:
        with anyio.fail_after(10):
            while len(self.buf) < n:
                self.buf += await self.stream.receive()

    async def packet(self) -> bytes:
        """The next whole packet, header included."""
        await self._fill(12)
        (size,) = struct.unpack(">I", self.buf[8:12])
        await self._fill(12 + size)
        data, self.buf = self.buf[: 12 + size], self.buf[12 + size :]
        return data

    async def expect(self, *packets: bytes) -> None:
        for want in packets:
            got = await self.packet()
            assert got == want, (got, want)

    async def barrier(self, token: bytes = b"barrier") -> None:
        """ECHO round trip: proves the server sent nothing else before it."""
        await self.send(req(ECHO_REQ, token))
        await self.expect(res(ECHO_RES, token))

    async def text(self, end: bytes = b"\n") -> bytes:
        """Raw bytes up to and including ``end``."""
        with anyio.fail_after(10):
            while end not in self.buf:
                self.buf += await self.stream.receive()
        i = self.buf.index(end) + len(end)
        data, self.buf = self.buf[:i], self.buf[i:]
        return data

    async def admin(self, line: bytes, listing: bool = False) -> bytes:
        await self.send(line + b"\r\n")
        return await self.text(b"\n.\n" if listing else b"\n")

    async def closed(self) -> bool:
        """Whether the server closed the connection (reads until EOF)."""
        with anyio.fail_after(10):
            try:
                while True:
                    self.buf += await self.stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return True

    async def aclose(self) -> None:
        await self.stream.aclose()


class Running:
    """A server started in-process by :func:`running`."""

    def __init__(self, server: Server, port: int) -> None:
        self.server = server
        self.port = port
        self._raws: list[Raw] = []

    async def raw(self) -> Raw:
        stream = await anyio.connect_tcp("127.0.0.1", self.port)
        raw = Raw(stream)
        self._raws.append(raw)
        return raw

    async def close_all(self) -> None:
        for raw in self._raws:
            with contextlib.suppress(Exception):
                await raw.aclose()


@contextlib.asynccontextmanager
async def running(
    store: Store | None = None, clock: Callable[[], float] | None = None, **options: Any
) -> AsyncIterator[Running]:
    """Run a server on 127.0.0.1 with an OS-chosen port for the body of the block."""
    options.setdefault("handle_prefix", PREFIX)
    opts = ServerOptions(hosts=["127.0.0.1"], port=0, **options)
    kwargs: dict[str, Any] = {"store": store}
    if clock is not None:
        kwargs["clock"] = clock
    server = Server(opts, **kwargs)
    async with anyio.create_task_group() as tg:
        ports = await tg.start(server.serve)
        run = Running(server, ports[0])
        try:
            yield run
        finally:
            await run.close_all()
            server.shutdown()


async def wait_until(cond: Callable[[], bool]) -> None:
    """Poll ``cond`` until it holds, for 10 s at most (state with no event to wait for)."""
    with anyio.fail_after(10):
        for _ in iter(int, 1):
            if cond():
                return
            await anyio.sleep(0.005)


def server_cmd(*args: str) -> list[str]:
    """The command line that runs our server in a subprocess."""
    return [sys.executable, "-m", "server", *args]


def subprocess_env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return env

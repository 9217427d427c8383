"""Faults and bad input: dead workers, a killed server, garbage, stalled readers, scale."""

from __future__ import annotations

import logging
import resource
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .proc import run_ours
from .wire import (
    CAN_DO,
    ECHO_REQ,
    ECHO_RES,
    GRAB_JOB,
    JOB_ASSIGN,
    JOB_CREATED,
    NO_JOB,
    NOOP,
    PRE_SLEEP,
    SUBMIT_JOB,
    SUBMIT_JOB_BG,
    WORK_COMPLETE,
    h,
    req,
    res,
    running,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)


# ------------------------------------------------------------------ blocking helpers


_opened: list[socket.socket] = []


@pytest.fixture(autouse=True)
def _close_sockets() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _opened.append(sock)
    return sock


def recv_packet(sock: socket.socket) -> bytes:
    head = b""
    while len(head) < 12:
        chunk = sock.recv(12 - len(head))
        assert chunk, "connection closed"
        head += chunk
    (size,) = struct.unpack(">I", head[8:])
    body = b""
    while len(body) < size:
        chunk = sock.recv(size - len(body))
        assert chunk, "connection closed"
        body += chunk
    return head + body


def grab(sock: socket.socket) -> tuple[bytes, bytes] | None:
    sock.sendall(req(GRAB_JOB))
    packet = recv_packet(sock)
    if packet == res(NO_JOB):
        return None
    assert packet[4:8] == struct.pack(">I", JOB_ASSIGN), packet
    handle, _, data = packet[12:].split(b"\0", 2)
    return handle, data


# ------------------------------------------------------------------ worker killed


def test_worker_killed_mid_job_completes_on_another() -> None:
    gearman = pytest.importorskip("shutil").which("gearman")
    if gearman is None:
        pytest.skip("gearman is not installed (Debian package: gearman-tools)")
    with run_ours() as server:
        port = str(server.port)
        victim = subprocess.Popen(
            [gearman, "-h", "127.0.0.1", "-p", port, "-w", "-f", "slow", "--", "sleep", "60"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        c = connect(server.port)
        c.sendall(req(SUBMIT_JOB, b"slow", b"u1", b"payload"))
        handle = recv_packet(c)[12:]
        admin = connect(server.port)
        deadline = time.monotonic() + 10
        while True:  # wait until the victim runs the job
            admin.sendall(b"status\n")
            reply = b""
            while not reply.endswith(b".\n"):
                reply += admin.recv(4096)
            if b"slow\t1\t1\t1" in reply:
                break
            assert time.monotonic() < deadline
            time.sleep(0.02)
        victim.kill()
        victim.wait()
        w = connect(server.port)
        w.sendall(req(CAN_DO, b"slow"))
        got = None
        while got is None:
            got = grab(w)
            if got is None:
                time.sleep(0.02)
        assert got == (handle, b"payload")
        w.sendall(req(WORK_COMPLETE, handle, b"done"))
        assert recv_packet(c) == res(WORK_COMPLETE, handle, b"done")


# ------------------------------------------------------------------ server killed


def test_server_sigkill_and_restart_with_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "queue.sqlite"
    args = ("--queue-type", "sqlite", "--sqlite-db", str(db))
    jobs = {b"u%d" % i: b"job%d" % i for i in range(200)}
    with run_ours(*args) as server:
        c = connect(server.port)
        c.sendall(b"".join(req(SUBMIT_JOB_BG, b"f", u, d) for u, d in jobs.items()))
        for _ in jobs:  # every job is acknowledged
            assert recv_packet(c)[4:8] == struct.pack(">I", JOB_CREATED)
        w = connect(server.port)
        w.sendall(req(CAN_DO, b"f"))
        first = grab(w)
        assert first is not None
        done = grab(w)
        assert done is not None
        w.sendall(req(WORK_COMPLETE, done[0], b""))
        w.sendall(req(ECHO_REQ, b"sync"))
        assert recv_packet(w) == res(17, b"sync")
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
    with run_ours(*args) as server:
        w = connect(server.port)
        w.sendall(req(CAN_DO, b"f"))
        seen: list[bytes] = []
        while (got := grab(w)) is not None:
            seen.append(got[1])
            w.sendall(req(WORK_COMPLETE, got[0], b""))
        assert len(seen) == len(set(seen))
        assert set(seen) == set(jobs.values()) - {done[1]}


# ------------------------------------------------------------------ garbage


BAD_INPUT = {
    "bad magic": b"\0XYZ" + struct.pack(">II", 16, 0),
    "unknown type": b"\0REQ" + struct.pack(">II", 99, 0),
    "oversized": b"\0REQ" + struct.pack(">II", 7, 2**31),
    "missing NUL": b"\0REQ" + struct.pack(">II", 22, 20000) + b"x" * 20000,
    "truncated": b"\0REQ" + struct.pack(">II", 7, 100) + b"f\0\0only-part",
    "long text line": b"status" + b" x" * 10000 + b"\n",
    "text line never ends": b"w" * 9000,
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(BAD_INPUT))
async def test_bad_input_closes_only_that_connection(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server")
    async with running(max_packet_size=1024 * 1024) as s:
        other = await s.raw()
        await other.send(req(SUBMIT_JOB, b"f", b"", b"d"))
        await other.expect(res(JOB_CREATED, h(1)))
        bad = await s.raw()
        await bad.send(BAD_INPUT[case])
        if case == "truncated":
            await bad.stream.send_eof()
        assert await bad.closed()
        await other.barrier()
        w = await s.raw()
        await w.send(req(CAN_DO, b"f"), req(GRAB_JOB))
        await w.expect(res(JOB_ASSIGN, h(1), b"f", b"d"))
    assert any("closed" in r.getMessage() for r in caplog.records), caplog.text


# ------------------------------------------------------------------ stalled reader


@pytest.mark.anyio
async def test_peer_that_stops_reading_slows_nobody() -> None:
    async with running() as s:
        w = await s.raw()
        await w.send(req(CAN_DO, b"big"), req(CAN_DO, b"small"))
        big = b"x" * (8 * 1024 * 1024)
        for n in range(1, 5):  # 32 MiB of results the clients never read
            stalled = await s.raw()
            await stalled.send(req(SUBMIT_JOB, b"big", b"", b""))
            await stalled.expect(res(JOB_CREATED, h(n)))
            await w.send(req(GRAB_JOB))
            await w.expect(res(JOB_ASSIGN, h(n), b"big", b""))
            await w.send(req(WORK_COMPLETE, h(n), big))
        c = await s.raw()
        for i in range(20):
            await c.send(req(SUBMIT_JOB, b"small", b"", b"%d" % i))
            await c.expect(res(JOB_CREATED, h(5 + i)))
            await w.send(req(GRAB_JOB))
            await w.expect(res(JOB_ASSIGN, h(5 + i), b"small", b"%d" % i))
            await w.send(req(WORK_COMPLETE, h(5 + i), b"ok"))
            await c.expect(res(WORK_COMPLETE, h(5 + i), b"ok"))


@pytest.mark.anyio
async def test_unread_output_over_the_limit_closes_the_peer() -> None:
    async with running(max_output_buffer=4 * 1024 * 1024) as s:
        stalled, w = await s.raw(), await s.raw()
        await w.send(req(CAN_DO, b"big"))
        await stalled.send(*(req(SUBMIT_JOB, b"big", b"", b"") for _ in range(4)))
        await stalled.expect(*(res(JOB_CREATED, h(n)) for n in range(1, 5)))
        for n in range(1, 5):  # 16 MiB: more than the limit plus any kernel buffer
            await w.send(req(GRAB_JOB))
            packet = await w.packet()
            if packet == res(NO_JOB):  # the stalled client is gone: its jobs too
                break
            assert packet == res(JOB_ASSIGN, h(n), b"big", b"")
            await w.send(req(WORK_COMPLETE, h(n), b"y" * (4 * 1024 * 1024)))
            await w.barrier()
        await wait_until(lambda: 1 not in s.server.scheduler.peers)
        await w.barrier()


# ------------------------------------------------------------------ scale


def _raise_nofile(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        if hard != resource.RLIM_INFINITY and hard < n:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {n}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


@pytest.mark.slow
def test_5000_connected_workers() -> None:
    _raise_nofile(12000)
    with run_ours("--worker-wakeup=0") as server:
        workers = []
        try:
            for _ in range(5000):
                sock = connect(server.port)
                sock.sendall(req(CAN_DO, b"many") + req(PRE_SLEEP))
                workers.append(sock)
            admin = connect(server.port)
            deadline = time.monotonic() + 30
            while True:
                admin.sendall(b"status\n")
                reply = b""
                while not reply.endswith(b".\n"):
                    reply += admin.recv(65536)
                if b"many\t0\t0\t5000\n" in reply:
                    break
                assert time.monotonic() < deadline, reply
                time.sleep(0.05)
            c = connect(server.port)
            c.sendall(req(SUBMIT_JOB_BG, b"many", b"", b"one"))
            assert recv_packet(c)[4:8] == struct.pack(">I", JOB_CREATED)
            for sock in workers:  # every sleeping worker is woken
                assert recv_packet(sock) == res(NOOP)
            got = grab(workers[-1])
            assert got is not None and got[1] == b"one"
        finally:
            for sock in workers:
                sock.close()


@pytest.mark.slow
def test_20000_registered_functions_submits_still_work() -> None:
    with run_ours() as server:
        w = connect(server.port)
        w.sendall(b"".join(req(CAN_DO, b"fn%d" % i) for i in range(20000)))
        c = connect(server.port)
        n = 2000
        c.sendall(
            b"".join(req(SUBMIT_JOB_BG, b"fn%d" % (i * 9), b"", b"%d" % i) for i in range(n))
        )
        for _ in range(n):
            assert recv_packet(c)[4:8] == struct.pack(">I", JOB_CREATED)
        seen = set()
        while (got := grab(w)) is not None:
            seen.add(got[1])
            w.sendall(req(WORK_COMPLETE, got[0], b""))
        assert len(seen) == n


@pytest.mark.anyio
async def test_headers_split_at_every_byte() -> None:
    async with running() as s:
        c = await s.raw()
        stream = b"".join(req(ECHO_REQ, b"%d" % i) for i in range(20)) + b"version\n"
        for i in range(len(stream)):  # one byte at a time, every boundary
            await c.send(stream[i : i + 1])
        for i in range(20):
            await c.expect(res(ECHO_RES, b"%d" % i))
        assert (await c.text()).startswith(b"OK ")

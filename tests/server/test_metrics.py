"""Prometheus metrics served over HTTP by the job server."""

from __future__ import annotations

import anyio
import pytest

from .wire import (
    CAN_DO,
    GRAB_JOB,
    JOB_ASSIGN,
    JOB_CREATED,
    SUBMIT_JOB_BG,
    SUBMIT_JOB_LOW,
    WORK_COMPLETE,
    h,
    req,
    res,
    running,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


async def http(port: int | None, request: bytes) -> tuple[bytes, bytes]:
    """Send ``request`` to the metrics port; return the status line and the body."""
    assert port is not None
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(request)
        reply = b""
        while True:
            try:
                reply += await stream.receive()
            except anyio.EndOfStream:
                break
    head, _, body = reply.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], body


async def test_metrics_show_the_queue() -> None:
    async with running(metrics_port=0) as s:
        c, w = await s.raw(), await s.raw()
        await w.send(req(CAN_DO, b"resize"))
        await c.send(req(SUBMIT_JOB_BG, b"resize", b"u1", b"x"))
        await c.send(req(SUBMIT_JOB_LOW, b'say "hi"', b"u2", b"y"))
        await c.expect(res(JOB_CREATED, h(1)), res(JOB_CREATED, h(2)))
        await w.barrier()
        status, body = await http(s.server.metrics_port, b"GET /metrics HTTP/1.1\r\n\r\n")
        assert status == b"HTTP/1.1 200 OK"
        lines = set(body.decode().splitlines())
        assert {
            "gearman_connections 2",
            "gearman_workers 1",
            "gearman_jobs 2",
            "gearman_jobs_created_total 2",
            "gearman_jobs_ended_total 0",
            'gearman_function_jobs{function="resize"} 1',
            'gearman_function_running{function="resize"} 0',
            'gearman_function_workers{function="resize"} 1',
            'gearman_function_queued{function="resize",priority="normal"} 1',
            'gearman_function_queued{function="say \\"hi\\"",priority="low"} 1',
            "# TYPE gearman_jobs_created_total counter",
        } <= lines
        await w.send(req(GRAB_JOB))
        await w.expect(res(JOB_ASSIGN, h(1), b"resize", b"x"))
        await w.send(req(WORK_COMPLETE, h(1), b"done"))
        await w.barrier()
        _, body = await http(s.server.metrics_port, b"GET /metrics HTTP/1.1\r\n\r\n")
        lines = set(body.decode().splitlines())
        assert {
            "gearman_jobs 1",
            "gearman_jobs_created_total 2",
            "gearman_jobs_ended_total 1",
        } <= lines


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"HEAD /metrics HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK"),
        (b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 404 Not Found"),
        (b"POST /metrics HTTP/1.1\r\n\r\n", b"HTTP/1.1 405 Method Not Allowed"),
        (b"GET /metrics" + b"x" * 9000, b"HTTP/1.1 400 Bad Request"),
    ],
    ids=["HEAD", "unknown path", "not GET", "endless head"],
)
async def test_other_requests(request_bytes: bytes, status: bytes) -> None:
    async with running(metrics_port=0) as s:
        got, _ = await http(s.server.metrics_port, request_bytes)
        assert got == status
        c = await s.raw()
        await c.barrier()  # the job server carries on


async def test_no_metrics_port_unless_asked() -> None:
    async with running() as s:
        assert s.server.metrics_port is None

"""Prometheus metrics over HTTP: the queue as ``status`` and ``prioritystatus`` show it.

Users of gearmand run a separate exporter that polls the admin protocol; the server
serves the same figures itself, on a port of its own, in Prometheus's text format
(version 0.0.4). The HTTP side is the least that Prometheus needs: ``GET /metrics``,
one request per connection.
"""

from __future__ import annotations

import logging

import anyio
import anyio.abc

from ._scheduler import Scheduler

__all__ = ("render", "serve_metrics")

log = logging.getLogger(__name__)

#: Longest request head read; Prometheus sends a few hundred bytes.
_MAX_HEAD = 8192
#: Seconds a scraper gets to send its request.
_READ_TIMEOUT = 10.0
_PRIORITIES = ("high", "normal", "low")

_HELP = (
    ("gearman_connections", "gauge", "Open connections (clients, workers and admin)."),
    ("gearman_workers", "gauge", "Connections that registered at least one function."),
    ("gearman_jobs", "gauge", "Jobs held: queued, running or waiting for their epoch."),
    ("gearman_jobs_created_total", "counter", "Jobs created since start, replayed ones too."),
    ("gearman_jobs_ended_total", "counter", "Jobs ended since start: done, failed or dropped."),
    ("gearman_function_jobs", "gauge", "Jobs held per function, as the status command."),
    ("gearman_function_running", "gauge", "Jobs running per function."),
    ("gearman_function_workers", "gauge", "Workers registered per function."),
    ("gearman_function_queued", "gauge", "Jobs not running, per function and priority."),
)


def _label(name: bytes) -> str:
    text = name.decode("utf-8", "backslashreplace")
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(scheduler: Scheduler) -> bytes:
    """The metrics page for ``scheduler``'s current state."""
    peers = scheduler.peers.values()
    values: dict[str, list[str]] = {name: [] for name, _, _ in _HELP}
    values["gearman_connections"].append(f"gearman_connections {len(peers)}")
    workers = sum(1 for p in peers if p.order)
    values["gearman_workers"].append(f"gearman_workers {workers}")
    values["gearman_jobs"].append(f"gearman_jobs {scheduler.job_count}")
    created, held = scheduler.created, scheduler.job_count
    values["gearman_jobs_created_total"].append(f"gearman_jobs_created_total {created}")
    values["gearman_jobs_ended_total"].append(f"gearman_jobs_ended_total {created - held}")
    for f in scheduler.functions.values():
        label = f'function="{_label(f.name)}"'
        values["gearman_function_jobs"].append(f"gearman_function_jobs{{{label}}} {f.total}")
        values["gearman_function_running"].append(
            f"gearman_function_running{{{label}}} {f.running}"
        )
        values["gearman_function_workers"].append(
            f"gearman_function_workers{{{label}}} {f.worker_count}"
        )
        for i, priority in enumerate(_PRIORITIES):
            queued = f.live[i] + f.future[i]
            values["gearman_function_queued"].append(
                f'gearman_function_queued{{{label},priority="{priority}"}} {queued}'
            )
    lines: list[str] = []
    for name, kind, text in _HELP:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *values[name]]
    return ("\n".join(lines) + "\n").encode()


def _response(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def _read_head(stream: anyio.abc.ByteStream) -> bytes | None:
    head = b""
    with anyio.move_on_after(_READ_TIMEOUT):
        while b"\r\n\r\n" not in head and b"\n\n" not in head:
            if len(head) > _MAX_HEAD:
                return None
            head += await stream.receive(4096)
        return head
    return None


async def _handle(scheduler: Scheduler, stream: anyio.abc.ByteStream) -> None:
    async with stream:
        try:
            head = await _read_head(stream)
            if head is None:
                await stream.send(_response("400 Bad Request", b"bad request\n"))
                return
            method, _, rest = head.partition(b" ")
            path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
            if method not in (b"GET", b"HEAD"):
                reply = _response("405 Method Not Allowed", b"GET /metrics\n")
            elif path != b"/metrics":
                reply = _response("404 Not Found", b"the metrics are at /metrics\n")
            else:
                body = render(scheduler)
                reply = _response("200 OK", body, "text/plain; version=0.0.4; charset=utf-8")
                if method == b"HEAD":
                    reply = reply[: len(reply) - len(body)]
            await stream.send(reply)
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError) as exc:
            log.debug("metrics request dropped: %s", exc)


async def serve_metrics(
    scheduler: Scheduler, listener: anyio.abc.Listener[anyio.abc.SocketStream]
) -> None:
    """Answer metrics requests on ``listener`` until cancelled."""

    async def handle(stream: anyio.abc.SocketStream) -> None:
        await _handle(scheduler, stream)

    await listener.serve(handle)

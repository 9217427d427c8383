"""Interoperability with libgearman, both ways, through its ``gearman`` CLI."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.peers import RunningServer, require

from .flavours import Flavour
from .servers import perl_gearmand

pytestmark = pytest.mark.timeout(30)


def test_our_client_calls_a_gearman_cli_worker(fl: Flavour, gearmand: RunningServer) -> None:
    gearman = require("gearman")
    cli_worker = subprocess.Popen(
        [gearman, "-w", "-h", "127.0.0.1", "-p", str(gearmand.port), "-f", "rev", "--", "rev"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with fl.client(gearmand.address) as client:
            assert client.submit("rev", b"Hello World!\n", timeout=10) == b"!dlroW olleH\n"
            task = client.add_task("rev", "héllo\n", unique="from-python", priority="high")
            assert task.result(10) == "olléh\n".encode()
    finally:
        cli_worker.kill()
        cli_worker.wait()


def test_gearman_cli_client_calls_our_worker(fl: Flavour, gearmand: RunningServer) -> None:
    gearman = require("gearman")
    worker = fl.make_worker(gearmand.address)
    seen: list[tuple[bytes, bytes]] = []

    @worker.function("reverse")
    def _reverse(job: Any) -> bytes:
        seen.append((job.data, job.unique))
        job.send_status(1, 2)
        return bytes(job.data[::-1])

    base = [gearman, "-h", "127.0.0.1", "-p", str(gearmand.port), "-f", "reverse"]
    with fl.working(worker):
        out = subprocess.run([*base, "Hello World!"], capture_output=True, timeout=20, check=True)
        # The CLI prints the result and "50% Complete" for our WORK_STATUS.
        assert b"!dlroW olleH" in out.stdout
        assert b"50% Complete" in out.stdout
        out = subprocess.run(
            [*base, "-u", "my-unique", "-I", "abc"], capture_output=True, timeout=20, check=True
        )
        assert b"cba" in out.stdout
    assert seen[0][0] == b"Hello World!"
    # libgearman sends a generated UUID when no unique is given.
    assert len(seen[0][1]) == 36
    assert seen[1] == (b"abc", b"my-unique")


def test_worker_falls_back_to_grab_job_on_the_perl_server(fl: Flavour) -> None:
    # Gearman::Server has no GRAB_JOB_ALL: it answers ERROR, and the worker goes on
    # with plain GRAB_JOB.
    with perl_gearmand() as server:
        worker = fl.make_worker(server.address)
        worker.register("reverse", lambda job: bytes(job.data[::-1]))
        with fl.working(worker), fl.client(server.address) as client:
            assert client.submit("reverse", b"perl!", timeout=10) == b"!lrep"
            assert client.submit("reverse", "again", timeout=10) == b"niaga"

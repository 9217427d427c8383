"""gearmand on a chosen port (to restart it in place), for the resilience tests."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers import RunningServer, free_port, require, wait_listening


@contextlib.contextmanager
def gearmand_on(port: int) -> Iterator[RunningServer]:
    """The real gearmand listening on 127.0.0.1:``port``."""
    binary = require("gearmand")
    with tempfile.TemporaryDirectory(prefix="gearmand-") as tmp:
        log = Path(tmp) / "gearmand.log"
        proc = subprocess.Popen(
            [binary, "--listen=127.0.0.1", f"--port={port}", f"--log-file={log}", "--threads=1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with _serving(RunningServer(proc, port, log)) as server:
            yield server


@contextlib.contextmanager
def _serving(server: RunningServer) -> Iterator[RunningServer]:
    try:
        wait_listening(server.port, proc=server.proc)
        yield server
    finally:
        server.stop()


PERL_SERVER = Path("/usr/bin/gearmand")


@contextlib.contextmanager
def perl_gearmand() -> Iterator[RunningServer]:
    """The Perl job server (Gearman::Server), which has no GRAB_JOB_ALL."""
    perl = require("perl")
    if not PERL_SERVER.is_file() or not PERL_SERVER.read_bytes().startswith(b"#!/usr/bin/perl"):
        pytest.skip("the Perl gearmand is not installed (Debian package: gearman-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="perl-gearmand-") as tmp:
        log = Path(tmp) / "log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [perl, str(PERL_SERVER), "--port", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        with _serving(RunningServer(proc, port, log)) as server:
            yield server

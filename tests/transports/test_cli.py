"""The ``gearproto`` command line (``python -m transports``) against gearmand."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers import RunningServer

pytestmark = pytest.mark.timeout(40)

ROOT = Path(__file__).resolve().parents[2]


def cli(
    server: RunningServer, *args: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "transports", "-s", server.address, "-t", "20", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=30,
        check=False,
    )


def cli_worker(server: RunningServer, function: str, *command: str) -> subprocess.Popen[bytes]:
    """``gearproto work FUNCTION -- COMMAND`` in the background."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "transports",
            "-s",
            server.address,
            "work",
            function,
            "--",
            *command,
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def rev_worker(gearmand: RunningServer) -> Iterator[subprocess.Popen[bytes]]:
    proc = cli_worker(gearmand, "reverse", "rev")
    yield proc
    proc.terminate()
    proc.wait(10)


def test_submit_to_a_shell_command_worker(
    gearmand: RunningServer, rev_worker: subprocess.Popen[bytes]
) -> None:
    out = cli(gearmand, "submit", "reverse", "Hello", "World!")
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"!dlroW olleH\n"
    out = cli(gearmand, "submit", "--lines", "reverse", stdin=b"abc\ndef\n")
    assert out.stdout == b"cba\nfed\n"
    out = cli(gearmand, "submit", "-b", "-p", "low", "-u", "u1", "reverse", stdin=b"x")
    assert out.stdout.startswith(b"Task created: H:")


def test_admin_commands_print_tables(gearmand: RunningServer) -> None:
    out = cli(gearmand, "submit", "-b", "queued", "x")
    handle = out.stdout.split(b": ")[1].strip().decode()
    status = cli(gearmand, "status").stdout.decode()
    assert status.splitlines()[0].split() == ["FUNCTION", "TOTAL", "RUNNING", "WORKERS"]
    assert ["queued", "1", "0", "0"] in [line.split() for line in status.splitlines()]
    assert "queued" in cli(gearmand, "prioritystatus").stdout.decode()
    assert handle in cli(gearmand, "show-jobs").stdout.decode()
    assert cli(gearmand, "show-unique-jobs").returncode == 0
    assert "ADDRESS" in cli(gearmand, "workers").stdout.decode()
    assert cli(gearmand, "job-status", handle).stdout == b"known=1 running=0 progress=0/0\n"
    assert cli(gearmand, "cancel-job", handle).stdout == b"OK\n"
    failed = cli(gearmand, "cancel-job", "H:nope:1")
    assert failed.returncode == 1 and b"UNKNOWN_JOB" in failed.stderr
    assert cli(gearmand, "maxqueue", "queued", "3").stdout == b"OK\n"
    assert cli(gearmand, "getpid").stdout == b"%d\n" % gearmand.proc.pid
    assert cli(gearmand, "verbose").stdout == b"INFO\n"
    assert cli(gearmand, "version").stdout.startswith(b"1.")
    assert cli(gearmand, "echo", "hi").stdout == b"hi\n"
    assert cli(gearmand, "create-function", "newf").stdout == b"OK\n"
    assert cli(gearmand, "drop-function", "newf").stdout == b"OK\n"


def test_failing_command_is_a_failed_job(gearmand: RunningServer) -> None:
    proc = cli_worker(gearmand, "nope", "false")
    try:
        start = time.monotonic()
        out = cli(gearmand, "submit", "nope", "x")
        assert out.returncode == 1
        assert b"Job failed" in out.stderr
        assert time.monotonic() - start < 30
    finally:
        proc.terminate()
        proc.wait(10)

"""Start and stop real Gearman peers (gearmand, the Perl server) for interop tests.

Every server listens on 127.0.0.1 on a port the OS picked. A test that needs a program
that is not installed is skipped with the Debian package to install.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

GEARMAND = "/usr/sbin/gearmand"
PACKAGES = {
    "gearmand": "gearman-job-server",
    "gearman": "gearman-tools",
    "gearadmin": "gearman-tools",
    "perl-gearman-server": "gearman-server",
}


def require(program: str, package: str | None = None) -> str:
    """The path of ``program``, or skip the test naming the Debian package to install."""
    path = GEARMAND if program == "gearmand" and os.access(GEARMAND, os.X_OK) else None
    path = path or shutil.which(program)
    if path is None:
        pkg = package or PACKAGES.get(program, program)
        pytest.skip(f"{program} is not installed (Debian package: {pkg})")
    return path


def require_perl_module(module: str, package: str) -> None:
    """Skip unless ``perl -M<module>`` works."""
    perl = shutil.which("perl")
    if perl is None or subprocess.run([perl, f"-M{module}", "-e1"], check=False).returncode:
        pytest.skip(f"Perl module {module} is not installed (Debian package: {package})")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(
    port: int, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it is true, failing the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def wait_handles(tasks: list[Any]) -> None:
    """Wait until every task got its JOB_CREATED."""
    wait_until(lambda: all(t.handle is not None for t in tasks))


@dataclass
class RunningServer:
    """A server process the test started."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    #: Whether it is our server (gearproto-server) rather than a peer's.
    ours: bool = False

    @property
    def address(self) -> str:
        """``"127.0.0.1:<port>"``."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Kill the process and wait for it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@contextlib.contextmanager
def run_on_free_port(
    command: Callable[[int], list[str]],
    log: Path,
    *,
    env: dict[str, str] | None = None,
    ours: bool = False,
) -> Iterator[RunningServer]:
    """Run the server ``command(port)`` on a free loopback port; kill it at the end.

    A port taken between choosing it and binding it is retried with another.
    """
    for _attempt in range(5):
        port = free_port()
        proc = subprocess.Popen(
            command(port),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_listening(port, proc=proc)
        except (OSError, RuntimeError):
            proc.kill()
            proc.wait()
            continue
        server = RunningServer(proc, port, log, ours)
        try:
            yield server
        finally:
            server.stop()
        return
    raise RuntimeError(f"could not start {command(0)[0]} on a free port")


@contextlib.contextmanager
def run_gearmand(*args: str) -> Iterator[RunningServer]:
    """Run the real gearmand on a free loopback port with extra ``args``."""
    binary = require("gearmand")
    with tempfile.TemporaryDirectory(prefix="gearmand-") as tmp:
        log = Path(tmp) / "gearmand.log"
        pid_file = Path(tmp) / "gearmand.pid"

        def command(port: int) -> list[str]:
            return [
                binary,
                "--listen=127.0.0.1",
                f"--port={port}",
                f"--log-file={log}",
                f"--pid-file={pid_file}",
                "--verbose=INFO",
                *args,
            ]

        with run_on_free_port(command, log) as server:
            yield server

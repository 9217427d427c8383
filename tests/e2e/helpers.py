"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.peers import RunningServer, wait_listening
from tests.server.proc import env


def reverse(job: Any) -> bytes:
    """The tutorial's worker function."""
    return bytes(job.data[::-1])


@contextlib.contextmanager
def ours_on(port: int, *args: str) -> Iterator[RunningServer]:
    """Our server on 127.0.0.1:``port`` (to restart it in place); killed at the end."""
    with tempfile.TemporaryDirectory(prefix="gearproto-server-") as tmp:
        log = Path(tmp) / "server.log"
        command = [sys.executable, "-m", "server", "--listen=127.0.0.1", f"--port={port}"]
        proc = subprocess.Popen(
            [*command, f"--log-file={log}", "--verbose=INFO", *args],
            env=env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = RunningServer(proc, port, log, ours=True)
        try:
            wait_listening(port, proc=proc)
            yield server
        finally:
            server.stop()

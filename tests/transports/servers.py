"""gearmand on a chosen port (to restart it in place), for the resilience tests."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.peers import RunningServer, require, wait_listening


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
        server = RunningServer(proc, port, log)
        try:
            wait_listening(port, proc=proc)
            yield server
        finally:
            server.stop()

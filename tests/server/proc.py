"""Run our server as a subprocess (``python -m server``) on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.peers import RunningServer, free_port, wait_listening

ROOT = Path(__file__).resolve().parents[2]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT)
    return e


@contextlib.contextmanager
def run_ours(*args: str, log_dir: Path | None = None) -> Iterator[RunningServer]:
    """Start ``python -m server`` with ``args``; kill it at the end."""
    with tempfile.TemporaryDirectory(prefix="gearproto-server-") as tmp:
        log = (log_dir or Path(tmp)) / "server.log"
        for _attempt in range(5):
            port = free_port()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "server",
                    "--listen=127.0.0.1",
                    f"--port={port}",
                    f"--log-file={log}",
                    "--verbose=INFO",
                    *args,
                ],
                env=env(),
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
            server = RunningServer(proc, port, log, ours=True)
            try:
                yield server
            finally:
                server.stop()
            return
        raise RuntimeError("could not start the server on a free port")

"""Run our server as a subprocess (``python -m server``) on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.peers import RunningServer, run_on_free_port

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

        def command(port: int) -> list[str]:
            return [
                sys.executable,
                "-m",
                "server",
                "--listen=127.0.0.1",
                f"--port={port}",
                f"--log-file={log}",
                "--verbose=INFO",
                *args,
            ]

        with run_on_free_port(command, log, env=env(), ours=True) as server:
            yield server

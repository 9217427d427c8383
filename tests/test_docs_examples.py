"""The examples the docs include run as shown, against the real gearmand."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from types import ModuleType

import pytest

from tests.peers import RunningServer

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.gearmand
@pytest.mark.timeout(20)
def test_raw_client_and_worker(gearmand: RunningServer) -> None:
    worker = threading.Thread(target=load("raw_worker").serve, args=(gearmand.address, 2))
    worker.start()
    client = load("raw_client")
    assert client.call(gearmand.address, b"reverse", b"Hello World!") == b"!dlroW olleH"
    assert client.call(gearmand.address, b"reverse", b"a\0b") == b"b\0a"
    worker.join(timeout=10)
    assert not worker.is_alive()


@pytest.mark.timeout(30)
def test_five_minute_tour_against_our_server() -> None:
    """README's tour: make serve, then the worker and the client scripts, as written."""
    import subprocess
    import sys

    from tests.server.proc import env, run_ours

    with run_ours() as server:
        worker = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "tour_worker.py"), server.address], env=env()
        )
        try:
            out = subprocess.run(
                [sys.executable, str(EXAMPLES / "tour_client.py"), server.address],
                env=env(),
                capture_output=True,
                check=True,
                timeout=20,
            ).stdout.decode()
        finally:
            worker.terminate()
            worker.wait(timeout=10)
    assert out.splitlines()[0] == "!dlroW olleH"
    assert out.splitlines()[1].startswith("queued in the background as H:")

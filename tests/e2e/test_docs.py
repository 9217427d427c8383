"""The tutorial's and the README's code examples run as written against our server.

The code blocks are taken from the documents themselves; only the address changes
(``127.0.0.1:4730`` becomes our server on a free port). The blocking examples share one
namespace, in order, as a reader would type them; the asyncio and trio programs run on
their own. A ``worker.work()`` line (it blocks until ``worker.stop()``) runs in a thread.
"""

from __future__ import annotations

import re
import socket
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.peers import RunningServer
from transports.sync import Client, Worker

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
WORK = re.compile(r"^worker\.work\(\).*$", re.MULTILINE)


def rst_blocks(path: Path) -> list[str]:
    """The ``.. code-block:: python`` blocks of a reStructuredText file."""
    pattern = re.compile(r"^\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", re.MULTILINE)
    return [textwrap.dedent(m.group(1)) for m in pattern.finditer(path.read_text())]


def markdown_blocks(path: Path) -> list[str]:
    """The fenced ``python`` blocks of a Markdown file."""
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), re.MULTILINE | re.DOTALL)


def localise(code: str, server: RunningServer) -> str:
    code = code.replace("127.0.0.1:4730", server.address)
    return code.replace('("127.0.0.1", 4730)', f'("127.0.0.1", {server.port})')


class Reader:
    """Runs blocks as a reader would: one namespace, blocking ``work()`` in threads."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.namespace: dict[str, Any] = {"__name__": "__docs__"}
        self.workers: list[tuple[Any, threading.Thread]] = []
        self.made: dict[int, Client | Worker | socket.socket] = {}

    def run(self, code: str, name: str) -> None:
        code = localise(code, self.server)
        if "from transports.asyncio" in code or "from transports.trio" in code:
            exec(compile(code, name, "exec"), {"__name__": "__docs__"})  # a whole program
            return
        parts = WORK.split(code)
        for i, part in enumerate(parts):
            exec(compile(part, name, "exec"), self.namespace)
            # Examples rebind names and leave things open: close them at the end.
            for value in self.namespace.values():
                if isinstance(value, Client | Worker | socket.socket):
                    self.made[id(value)] = value
            if i < len(parts) - 1:
                worker = self.namespace["worker"]
                thread = threading.Thread(target=worker.work, daemon=True)
                thread.start()
                self.workers.append((worker, thread))

    def close(self) -> None:
        for worker, thread in self.workers:
            worker.stop()
            thread.join(10)
            assert not thread.is_alive()
        for value in self.made.values():
            value.close()


def helper_worker(server: RunningServer) -> Worker:
    """Workers for the functions the examples call but do not define."""
    worker = Worker(server.address)
    worker.register("thumbnail", lambda job: b"thumb of " + bytes(job.data))
    worker.register("report", lambda job: b"report " + bytes(job.data))
    return worker


def test_tutorial_examples(ours: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = rst_blocks(ROOT / "docs" / "tutorial.rst")
    assert len(blocks) >= 13, "the tutorial's code blocks were not found"
    helper = helper_worker(ours)
    helping = threading.Thread(target=helper.work, daemon=True)
    helping.start()
    reader = Reader(ours)
    try:
        for i, block in enumerate(blocks):
            reader.run(block, f"docs/tutorial.rst block {i + 1}")
    finally:
        reader.close()
        helper.stop()
        helping.join(10)
        helper.close()
    out = capsys.readouterr().out
    # The asyncio and trio programs, then the task results and updates.
    assert out.count("b'!dlroW olleH'") == 2
    assert "[b'eno', b'owt', b'eerht']" in out
    assert "status b'' 3 3" in out and "data b'2\\n' 0 0" in out and "b'done'" in out
    ns = reader.namespace
    assert ns["handle"].startswith(b"H:")
    assert ns["status"].known  # the queued "resize" job


def test_readme_examples(ours: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = markdown_blocks(ROOT / "README.md")
    assert len(blocks) >= 2, "the README's code blocks were not found"
    reader = Reader(ours)
    try:
        # The protocol-core block needs a "reverse" worker: the README's own, run first.
        for i in sorted(range(len(blocks)), key=lambda i: "Worker(" not in blocks[i]):
            reader.run(blocks[i], f"README.md block {i + 1}")
    finally:
        reader.close()
    assert "b'olleH'" in capsys.readouterr().out


def test_howto_examples(ours: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Client] = []  # the example calls Client(...).submit(...) without a name
    init = Client.__init__

    def recording_init(self: Client, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Client, "__init__", recording_init)
    worker = Worker(ours.address)
    worker.register("reverse", lambda job: bytes(job.data[::-1]))
    working = threading.Thread(target=worker.work, daemon=True)
    working.start()
    reader = Reader(ours)
    try:
        (call,) = rst_blocks(ROOT / "docs" / "howto" / "call-other-workers.rst")
        reader.run(call, "docs/howto/call-other-workers.rst")
        (concurrency,) = rst_blocks(ROOT / "docs" / "howto" / "worker-concurrency.rst")
        reader.run(concurrency, "docs/howto/worker-concurrency.rst")
        assert reader.namespace["worker"].__class__ is Worker
    finally:
        reader.close()
        for client in made:
            client.close()
        worker.stop()
        working.join(10)
        worker.close()
    assert len(made) == 1


def test_server_embedding_examples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the example's queue.sqlite goes there
    embed, scheduler = rst_blocks(ROOT / "docs" / "server" / "embedding.rst")
    exec(compile(embed, "docs/server/embedding.rst block 1", "exec"), {"__name__": "__docs__"})
    assert re.search(r"listening on \[\d+\]", capsys.readouterr().out)
    assert (tmp_path / "queue.sqlite").exists()
    ns: dict[str, Any] = {"__name__": "__docs__"}
    exec(compile(scheduler, "docs/server/embedding.rst block 2", "exec"), ns)
    assert ns["s"].handle(1, ns["gearproto"].GetStatus(handle=b"H:test:1"))

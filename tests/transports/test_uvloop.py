"""The asyncio flavour on uvloop, whose transports are not asyncio's own classes."""

from __future__ import annotations

import anyio
import pytest

from tests.peers import RunningServer
from transports.asyncio import Client, Job, Worker

pytestmark = pytest.mark.timeout(30)


def test_client_and_worker_on_uvloop(gearmand: RunningServer) -> None:
    pytest.importorskip("uvloop")

    async def main() -> None:
        worker = Worker(gearmand.address)

        @worker.function("reverse")
        async def _reverse(job: Job) -> bytes:
            return job.data[::-1]

        async with anyio.create_task_group() as tg:
            tg.start_soon(worker.work)
            async with Client(gearmand.address) as client:
                assert await client.submit("reverse", b"abc") == b"cba"
                tasks = [await client.add_task("reverse", b"%d" % i) for i in range(100, 300)]
                await client.wait(tasks, 20)
                assert [await t.result() for t in tasks] == [
                    (b"%d" % i)[::-1] for i in range(100, 300)
                ]
                assert await client.echo(b"ping") == b"ping"
            worker.stop()

    anyio.run(main, backend="asyncio", backend_options={"use_uvloop": True})

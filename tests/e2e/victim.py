"""A worker of one flavour whose "slow" jobs never end: the tests kill its process.

Run as ``python -m tests.e2e.victim FLAVOUR HOST:PORT``.
"""

from __future__ import annotations

import sys
import threading
from typing import Any


def main(flavour: str, address: str) -> None:
    """Work "slow" jobs forever with the ``flavour`` worker."""
    if flavour == "sync":
        from transports.sync import Worker as SyncWorker

        sync = SyncWorker(address)
        sync.register("slow", lambda job: threading.Event().wait())
        sync.work()
    elif flavour == "asyncio":
        import asyncio

        from transports.asyncio import Worker as AsyncioWorker

        aio = AsyncioWorker(address)

        async def forever(job: Any) -> None:
            await asyncio.Event().wait()

        aio.register("slow", forever)
        asyncio.run(aio.work())
    else:
        import trio

        from transports.trio import Worker as TrioWorker

        tw = TrioWorker(address)

        async def sleep(job: Any) -> None:
            await trio.sleep_forever()

        tw.register("slow", sleep)
        trio.run(tw.work)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

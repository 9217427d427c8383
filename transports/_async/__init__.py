"""The async Client, Worker and Admin, written once on anyio.

:mod:`transports.asyncio` and :mod:`transports.trio` subclass them with their own byte
stream (:class:`Stream`): the waiting primitives (events, task groups, timeouts) come
from anyio, which runs on either event loop.
"""

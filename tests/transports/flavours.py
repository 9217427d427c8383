"""Drive the three flavours through one blocking API, so one test suite covers them all.

The sync flavour is used as is. An async flavour runs in an anyio blocking portal (an
event loop in a thread, asyncio or trio): every coroutine method of its objects is
called through the portal, and the objects it returns are wrapped the same way.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from types import ModuleType
from typing import Any

import anyio.from_thread
from anyio.from_thread import BlockingPortal

import transports.sync

FLAVOURS = ("sync", "asyncio", "trio")


def _unwrap(value: Any) -> Any:
    if isinstance(value, Proxy):
        return value._obj
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


class Proxy:
    """A blocking view of an async object: coroutines run in the portal."""

    def __init__(self, portal: BlockingPortal, obj: Any) -> None:
        self._portal = portal
        self._obj = obj

    def _wrap(self, value: Any) -> Any:
        kind = type(value)
        if kind.__module__.startswith("transports.") and kind.__name__ in ("Task", "Client"):
            return Proxy(self._portal, value)
        if isinstance(value, list):
            return [self._wrap(v) for v in value]
        return value

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._obj, name)
        portal = self._portal
        if inspect.iscoroutinefunction(attr):

            @functools.wraps(attr)
            def call(*args: Any, **kwargs: Any) -> Any:
                args = tuple(_unwrap(a) for a in args)
                return self._wrap(portal.call(functools.partial(attr, *args, **kwargs)))

            return call
        if inspect.isasyncgenfunction(attr):

            def collect(*args: Any, **kwargs: Any) -> list[Any]:
                async def run() -> list[Any]:
                    return [item async for item in attr(*args, **kwargs)]

                return portal.call(run)

            return collect
        return attr


class Flavour:
    """One flavour's module and the way tests use it."""

    def __init__(self, name: str, portal: BlockingPortal | None) -> None:
        self.name = name
        self.module: ModuleType = importlib.import_module(f"transports.{name}")
        self.portal = portal

    def __repr__(self) -> str:
        return self.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self.module, name)

    @contextlib.contextmanager
    def client(self, servers: Any, **kwargs: Any) -> Iterator[Any]:
        """A connected client, closed at the end."""
        client = self.module.Client(servers, **kwargs)
        if self.portal is None:
            with client:
                yield client
            return
        with self.portal.wrap_async_context_manager(client) as entered:
            yield Proxy(self.portal, entered)

    @contextlib.contextmanager
    def admin(self, server: Any, **kwargs: Any) -> Iterator[Any]:
        admin = self.module.Admin(server, **kwargs)
        if self.portal is None:
            with admin:
                yield admin
            return
        with self.portal.wrap_async_context_manager(admin) as entered:
            yield Proxy(self.portal, entered)

    def make_worker(self, servers: Any, **kwargs: Any) -> transports.sync.Worker:
        """A worker of this flavour (typed as the sync one: registration is the same)."""
        worker: transports.sync.Worker = self.module.Worker(servers, **kwargs)
        return worker

    @contextlib.contextmanager
    def working(self, worker: Any, timeout: float = 20) -> Iterator[Any]:
        """Run ``worker.work()`` in the background; stop it (gracefully) at the end."""
        future: Future[Any]
        if self.portal is None:
            future = Future()

            def run() -> None:
                try:
                    worker.work()
                    future.set_result(None)
                except BaseException as exc:
                    future.set_exception(exc)

            threading.Thread(target=run, daemon=True).start()
        else:
            future = self.portal.start_task_soon(worker.work)
        try:
            yield worker
        finally:
            self.stop(worker)
            future.result(timeout)
            if self.portal is None:
                worker.close()

    def stop(self, worker: Any) -> None:
        if self.portal is None:
            worker.stop()
        else:
            self.portal.call(worker.stop)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` (sync or async) the flavour's way."""
        if self.portal is None:
            return fn(*args)
        return self.portal.call(fn, *args)


@contextlib.contextmanager
def flavour(name: str) -> Iterator[Flavour]:
    if name == "sync":
        yield Flavour(name, None)
        return
    with anyio.from_thread.start_blocking_portal(backend=name) as portal:
        yield Flavour(name, portal)

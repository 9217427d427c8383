"""The admin text protocol, answered byte for byte as gearmand's ``text.cc`` does.

Replies are gearproto's typed admin events, so their bytes come from one place.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from gearproto import (
    AdminCommand,
    AdminError,
    AdminOk,
    Event,
    FunctionPriorityStatus,
    FunctionStatus,
    JobInfo,
    PidReply,
    PriorityStatusReply,
    ShowJobsReply,
    ShowUniqueJobsReply,
    StatusReply,
    VerboseReply,
    VersionReply,
    WorkerInfo,
    WorkersReply,
    __version__,
)

from ._model import IGNORED, Peer
from ._scheduler import Scheduler

__all__ = ("AdminHandler",)

_OK = AdminOk()
_NUMBER = re.compile(rb"\s*[-+]?\d+")


def _invalid_arguments(word: bytes) -> AdminError:
    return AdminError(
        code=b"INVALID_ARGUMENTS",
        text=b"An+incomplete+set+of+arguments+was+sent+to+this+command+" + word,
    )


def atoi(text: bytes) -> int:
    """C's ``atoi``: an optional sign and the leading digits; 0 if there are none."""
    m = _NUMBER.match(text)
    return int(m.group()) if m else 0


def _unknown(word: bytes) -> AdminError:
    return AdminError(code=b"UNKNOWN_COMMAND", text=b"Unknown+server+command" + word)


class AdminHandler:
    """Answers admin commands against a :class:`~server.Scheduler`.

    :param verbose: The log level name ``verbose`` reports (e.g. ``b"ERROR"``).
    :param version: What ``version`` reports.
    """

    def __init__(
        self,
        *,
        verbose: Callable[[], bytes] = lambda: b"ERROR",
        version: bytes = __version__.encode(),
    ) -> None:
        self.verbose = verbose
        self.version = version

    def __call__(self, scheduler: Scheduler, peer: Peer, cmd: AdminCommand) -> Event:
        """The reply to ``cmd`` from ``peer``."""
        word = cmd.command
        name = word.lower()
        args = cmd.args
        argc = len(args) + 1
        if not word:
            return _unknown(b"")
        if name == b"workers":
            return WorkersReply(
                workers=tuple(
                    WorkerInfo(
                        fd=p.fd,
                        address=p.address,
                        client_id=p.client_id,
                        functions=tuple(
                            f.name for f in reversed(p.order) for _ in range(f.workers[p])
                        ),
                    )
                    for p in scheduler.peers.values()
                )
            )
        if name == b"status":
            return StatusReply(
                functions=tuple(
                    FunctionStatus(
                        function=f.name, total=f.total, running=f.running, workers=f.worker_count
                    )
                    for f in scheduler.functions.values()
                )
            )
        if name == b"prioritystatus":
            return PriorityStatusReply(
                functions=tuple(
                    FunctionPriorityStatus(
                        function=f.name,
                        high=f.live[0] + f.future[0],
                        normal=f.live[1] + f.future[1],
                        low=f.live[2] + f.future[2],
                        workers=f.worker_count,
                    )
                    for f in scheduler.functions.values()
                )
            )
        if name == b"cancel" and argc >= 3:
            if argc == 3 and args[0].lower() == b"job":
                if scheduler.cancel(args[1]):
                    return _OK
                return AdminError(code=b"UNKNOWN_JOB")
            return AdminError(code=b"UNKNOWN_ERROR")
        if name == b"show" and argc >= 2:
            lowered = tuple(a.lower() for a in args)
            if lowered == (b"unique", b"jobs"):
                return ShowUniqueJobsReply(
                    uniques=tuple(j.unique for j in scheduler.jobs.values())
                )
            if lowered == (b"jobs",):
                return ShowJobsReply(
                    jobs=tuple(
                        JobInfo(
                            handle=j.handle,
                            retries=j.retries,
                            ignored=j.ignored or j.state == IGNORED,
                            persisted=j.persisted,
                        )
                        for j in scheduler.jobs.values()
                    )
                )
            return AdminError(code=b"UNKNOWN_SHOW_ARGUMENTS")
        if name == b"create":
            if argc == 3 and args[0].lower() == b"function":
                scheduler.function(args[1])
                return _OK
            return _invalid_arguments(word)
        if name == b"drop":
            if argc == 3 and args[0].lower() == b"function":
                return self._drop(scheduler, args[1])
            return _invalid_arguments(word)
        if name == b"maxqueue":
            if argc == 1:
                return _invalid_arguments(word)
            self._maxqueue(scheduler, args)
            return _OK
        if name == b"getpid":
            return PidReply(pid=os.getpid())
        if name == b"verbose":
            return VerboseReply(level=self.verbose())
        if name == b"version":
            return VersionReply(version=self.version)
        return _unknown(word)

    @staticmethod
    def _drop(scheduler: Scheduler, name: bytes) -> Event:
        wanted = name.lower()
        for f in scheduler.functions.values():
            if f.name.lower() == wanted:
                # gearmand also drops a function that still has queued jobs (losing
                # them); we refuse that too.
                if f.worker_count or f.running or f.total:
                    return AdminError(
                        code=b"there", text=b"are still connected workers or executing clients"
                    )
                scheduler.drop_function(f)
                return _OK
        return AdminError(code=b"function", text=b"not found")

    @staticmethod
    def _maxqueue(scheduler: Scheduler, args: tuple[bytes, ...]) -> None:
        numbers = [max(0, atoi(a)) for a in args[1:4]]
        if len(numbers) <= 1:
            limits = [numbers[0] if numbers else 0] * 3
        elif len(numbers) == 2:
            limits = [numbers[0], numbers[1], 0]
        else:
            limits = numbers
        f = scheduler.functions.get(args[0])
        if f is not None:
            f.max_queue = limits

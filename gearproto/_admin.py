"""The admin text protocol: commands, typed replies, and their exact bytes.

Admin commands share the port with binary packets; a packet whose first byte is not
NUL is a text line (``\\n``-terminated, one optional ``\\r`` before it). Replies are raw
text with gearmand's own, inconsistent line endings, which clients depend on and which
this module reproduces byte for byte:

* lists (``status``, ``workers``, ``show jobs`` …) use ``\\n`` and end with ``.\\n``;
* ``OK`` and ``ERR`` use ``\\r\\n``;
* ``version``, ``getpid`` and ``verbose`` answer ``OK <value>\\n``.

A client learns how a reply ends from the command it sent, so the parser here is told
that command (see :func:`reply_kind`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from ._build import speed_up_all
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import Event

__all__ = (
    "AdminCommand",
    "AdminError",
    "AdminLines",
    "AdminOk",
    "FunctionPriorityStatus",
    "FunctionStatus",
    "JobInfo",
    "PidReply",
    "PriorityStatusReply",
    "ShowJobsReply",
    "ShowUniqueJobsReply",
    "StatusReply",
    "VerboseReply",
    "VersionReply",
    "WorkerInfo",
    "WorkersReply",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminCommand(Event):
    """C→S an admin text command, e.g. ``AdminCommand(command=b"status")``.

    Attributes:
        command: The first word (``status``, ``workers``, ``show``, ``cancel``, …).
            Received commands keep the peer's spelling; gearmand matches them
            case-insensitively.
        args: The remaining words: ``(b"jobs",)`` for ``show jobs``, ``(b"job", handle)``
            for ``cancel job``. Words are separated by single spaces on the wire.
    """

    command: bytes
    args: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminOk(Event):
    """S→C ``OK``: success. ``text`` is what follows ``OK`` on the line, if anything."""

    text: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminError(Event):
    """S→C ``ERR <code> <text>``, e.g. ``ERR UNKNOWN_JOB`` or ``ERR UNKNOWN_COMMAND …``."""

    code: bytes
    text: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionReply(Event):
    """S→C the answer to ``version``: ``OK <version>``."""

    version: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PidReply(Event):
    """S→C the answer to ``getpid``: ``OK <pid>``."""

    pid: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VerboseReply(Event):
    """S→C the answer to ``verbose``: ``OK <LEVEL>`` (``ERROR``, ``INFO``, ``DEBUG`` …)."""

    level: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionStatus:
    """One row of ``status``: jobs held (queued + running), running, and workers."""

    function: bytes
    total: int
    running: int
    workers: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReply(Event):
    """S→C the answer to ``status``: one :class:`FunctionStatus` per known function."""

    functions: tuple[FunctionStatus, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionPriorityStatus:
    """One row of ``prioritystatus``: queued (not running) jobs per priority, workers."""

    function: bytes
    high: int
    normal: int
    low: int
    workers: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PriorityStatusReply(Event):
    """S→C the answer to ``prioritystatus``."""

    functions: tuple[FunctionPriorityStatus, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerInfo:
    """One row of ``workers``: a connection, its client id and its registered functions."""

    fd: int
    address: bytes
    client_id: bytes
    functions: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkersReply(Event):
    """S→C the answer to ``workers``: every connection, clients and admin ones included."""

    workers: tuple[WorkerInfo, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class JobInfo:
    """One row of ``show jobs``.

    Attributes:
        handle: The job handle.
        retries: How many times the job was requeued after losing its worker.
        ignored: The job was cancelled or abandoned and will be dropped.
        persisted: gearmand's ``job_queued`` flag: the job was (or would have been)
            written to the persistent queue. gearmand sets it for every background job,
            with or without a persistent queue configured.
    """

    handle: bytes
    retries: int
    ignored: bool
    persisted: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ShowJobsReply(Event):
    """S→C the answer to ``show jobs``."""

    jobs: tuple[JobInfo, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ShowUniqueJobsReply(Event):
    """S→C the answer to ``show unique jobs``: the unique id of every job."""

    uniques: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminLines(Event):
    """S→C a ``.``-terminated list answering a command gearproto has no type for."""

    lines: tuple[bytes, ...] = ()


ADMIN_REPLIES: Final = (
    AdminOk,
    AdminError,
    VersionReply,
    PidReply,
    VerboseReply,
    StatusReply,
    PriorityStatusReply,
    WorkersReply,
    ShowJobsReply,
    ShowUniqueJobsReply,
    AdminLines,
)


class ReplyKind(enum.Enum):
    """How the reply to a command is framed and typed."""

    STATUS = enum.auto()
    PRIORITY_STATUS = enum.auto()
    WORKERS = enum.auto()
    SHOW_JOBS = enum.auto()
    SHOW_UNIQUE_JOBS = enum.auto()
    VERSION = enum.auto()
    PID = enum.auto()
    VERBOSE = enum.auto()
    OK = enum.auto()
    OTHER = enum.auto()


_SIMPLE_KINDS: Final = {
    b"status": ReplyKind.STATUS,
    b"prioritystatus": ReplyKind.PRIORITY_STATUS,
    b"workers": ReplyKind.WORKERS,
    b"version": ReplyKind.VERSION,
    b"getpid": ReplyKind.PID,
    b"verbose": ReplyKind.VERBOSE,
    b"cancel": ReplyKind.OK,
    b"create": ReplyKind.OK,
    b"drop": ReplyKind.OK,
    b"maxqueue": ReplyKind.OK,
}
LIST_KINDS: Final = frozenset(
    {
        ReplyKind.STATUS,
        ReplyKind.PRIORITY_STATUS,
        ReplyKind.WORKERS,
        ReplyKind.SHOW_JOBS,
        ReplyKind.SHOW_UNIQUE_JOBS,
    }
)


#: List replies whose rows are tab-separated.
_TABBED: Final = frozenset({ReplyKind.STATUS, ReplyKind.PRIORITY_STATUS, ReplyKind.SHOW_JOBS})


def reply_kind(command: AdminCommand) -> ReplyKind:
    """Which reply format answers ``command`` (gearmand's grammar, case-insensitive)."""
    word = command.command.lower()
    if word == b"show":
        args = tuple(a.lower() for a in command.args)
        if args == (b"jobs",):
            return ReplyKind.SHOW_JOBS
        if args == (b"unique", b"jobs"):
            return ReplyKind.SHOW_UNIQUE_JOBS
        return ReplyKind.OK
    return _SIMPLE_KINDS.get(word, ReplyKind.OTHER)


# --------------------------------------------------------------------------- commands


def encode_command(cmd: AdminCommand) -> bytes:
    """The line a client sends for ``cmd``."""
    words = (cmd.command, *cmd.args)
    for word in words:
        if not isinstance(word, bytes):
            raise LocalProtocolError(f"admin words must be bytes, not {type(word).__name__}")
        if not word or any(c in word for c in (b" ", b"\n", b"\r", b"\0")):
            raise LocalProtocolError(f"bad admin command word: {word!r}")
    # CRLF as gearadmin sends it: gearmand's ``create function`` cuts two bytes off the
    # name's end, so a bare LF would lose the name's last character.
    return b" ".join(words) + b"\r\n"


def decode_command(line: bytes) -> AdminCommand:
    """Parse one admin line (without its ``\\n``) as gearmand does: split on spaces only."""
    if line.endswith(b"\r"):
        line = line[:-1]
    words = [w for w in line.split(b" ") if w]
    if not words:
        return AdminCommand(command=b"")
    return AdminCommand(command=words[0], args=tuple(words[1:]))


# --------------------------------------------------------------------------- replies


def _ok(text: bytes) -> bytes:
    return b"OK " + text + b"\n" if text else b"OK\r\n"


def encode_reply(reply: Event) -> bytes:
    """The exact bytes gearmand writes for ``reply``."""
    if isinstance(reply, AdminOk):
        return _ok(reply.text)
    if isinstance(reply, AdminError):
        return b"ERR " + reply.code + (b" " + reply.text if reply.text else b"") + b"\r\n"
    if isinstance(reply, VersionReply):
        return _ok(reply.version)
    if isinstance(reply, PidReply):
        return _ok(b"%d" % reply.pid)
    if isinstance(reply, VerboseReply):
        return _ok(reply.level)
    if isinstance(reply, StatusReply):
        rows = [
            b"%s\t%d\t%d\t%d\n" % (f.function, f.total, f.running, f.workers)
            for f in reply.functions
        ]
    elif isinstance(reply, PriorityStatusReply):
        rows = [
            b"%s\t%d\t%d\t%d\t%d\n" % (f.function, f.high, f.normal, f.low, f.workers)
            for f in reply.functions
        ]
    elif isinstance(reply, WorkersReply):
        rows = [
            b"%d %s %s :%s\n"
            % (w.fd, w.address, w.client_id, b"".join(b" " + f for f in w.functions))
            for w in reply.workers
        ]
    elif isinstance(reply, ShowJobsReply):
        rows = [
            b"%s\t%d\t%d\t%d\n" % (j.handle, j.retries, j.ignored, j.persisted) for j in reply.jobs
        ]
    elif isinstance(reply, ShowUniqueJobsReply):
        rows = [u + b"\n" for u in reply.uniques]
    else:
        assert isinstance(reply, AdminLines)
        rows = [line + b"\n" for line in reply.lines]
    rows.append(b".\n")
    return b"".join(rows)


def _bad(kind: ReplyKind, line: bytes) -> RemoteProtocolError:
    return RemoteProtocolError(f"malformed {kind.name.lower()} reply line: {line!r}")


def _ints(kind: ReplyKind, line: bytes, fields: list[bytes]) -> list[int]:
    try:
        return [int(f) for f in fields]
    except ValueError:
        raise _bad(kind, line) from None


def _row(kind: ReplyKind, line: bytes) -> object:
    if kind is ReplyKind.STATUS or kind is ReplyKind.PRIORITY_STATUS:
        width = 3 if kind is ReplyKind.STATUS else 4
        parts = line.rsplit(b"\t", width)
        if len(parts) != width + 1:
            raise _bad(kind, line)
        n = _ints(kind, line, parts[1:])
        if kind is ReplyKind.STATUS:
            return FunctionStatus(function=parts[0], total=n[0], running=n[1], workers=n[2])
        return FunctionPriorityStatus(
            function=parts[0], high=n[0], normal=n[1], low=n[2], workers=n[3]
        )
    if kind is ReplyKind.WORKERS:
        # Split on the first three spaces: an IPv6 address contains " :" too.
        parts = line.split(b" ", 3)
        if len(parts) != 4 or parts[3][:1] != b":":
            raise _bad(kind, line)
        (fd,) = _ints(kind, line, parts[:1])
        return WorkerInfo(
            fd=fd,
            address=parts[1],
            client_id=parts[2],
            functions=tuple(f for f in parts[3][1:].split(b" ") if f),
        )
    if kind is ReplyKind.SHOW_JOBS:
        parts = line.rsplit(b"\t", 3)
        if len(parts) != 4:
            raise _bad(kind, line)
        n = _ints(kind, line, parts[1:])
        return JobInfo(handle=parts[0], retries=n[0], ignored=bool(n[1]), persisted=bool(n[2]))
    return line


def decode_list(kind: ReplyKind, lines: list[bytes]) -> Event:
    """Build the reply event for a ``.``-terminated list (the ``.`` line excluded)."""
    rows = tuple(_row(kind, line) for line in lines)
    if kind is ReplyKind.STATUS:
        return StatusReply(functions=rows)  # type: ignore[arg-type]
    if kind is ReplyKind.PRIORITY_STATUS:
        return PriorityStatusReply(functions=rows)  # type: ignore[arg-type]
    if kind is ReplyKind.WORKERS:
        return WorkersReply(workers=rows)  # type: ignore[arg-type]
    if kind is ReplyKind.SHOW_JOBS:
        return ShowJobsReply(jobs=rows)  # type: ignore[arg-type]
    if kind is ReplyKind.SHOW_UNIQUE_JOBS:
        return ShowUniqueJobsReply(uniques=rows)  # type: ignore[arg-type]
    return AdminLines(lines=rows)  # type: ignore[arg-type]


def decode_line(kind: ReplyKind, line: bytes, crlf: bool) -> Event | None:
    """Decode a reply's first line; ``None`` means it starts a ``.``-terminated list.

    ``crlf`` says the line ended in ``\r\n``. In a list reply, ``ERR ...`` is an error
    only when it cannot be a row: gearmand ends ERR lines with CRLF and rows with LF,
    and tab-separated rows contain a tab (a function may well be named ``ERR x``).
    """
    is_err = line.startswith(b"ERR ") or line == b"ERR"
    if is_err and (kind not in LIST_KINDS or crlf or (kind in _TABBED and b"\t" not in line)):
        code, _, text = line[4:].partition(b" ")
        return AdminError(code=code, text=text)
    if kind in LIST_KINDS:
        return None
    if line.startswith(b"OK ") or line == b"OK":
        text = line[3:]
        if kind is ReplyKind.VERSION:
            return VersionReply(version=text)
        if kind is ReplyKind.VERBOSE:
            return VerboseReply(level=text)
        if kind is ReplyKind.PID:
            try:
                return PidReply(pid=int(text))
            except ValueError:
                raise _bad(kind, line) from None
        return AdminOk(text=text)
    if kind is ReplyKind.OTHER:
        return None
    raise _bad(kind, line)


speed_up_all(globals(), Event)

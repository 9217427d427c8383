"""Packet payload → event decoders, generated once from a table at import time.

The receive path is the hot loop of every server and client, so each packet type gets
decoders specialised for its fields, generated from one row of :data:`SPEC`:

* ``small(payload)`` for payloads under ``max_field_size`` (nearly all packets): one
  ``split`` does every NUL search at C speed;
* ``fast(buf, start, end, nul_limit)`` for larger complete packets: NUL searches bounded
  by ``nul_limit`` and one slice for the data, so a big payload is copied only once;
* ``from_fields(fields)`` for large packets whose data arrived in pieces.

They return ``None`` when a NUL is missing. Events are built through a layout-compatible
"twin" class rather than the frozen ``__init__`` (see :mod:`gearproto._build`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from ._build import twin
from ._errors import RemoteProtocolError
from ._events import (
    AllYours,
    CanDo,
    CanDoTimeout,
    CantDo,
    EchoReq,
    EchoRes,
    Error,
    Event,
    GetStatus,
    GetStatusUnique,
    GrabJob,
    GrabJobAll,
    GrabJobUniq,
    JobAssign,
    JobCreated,
    NoJob,
    Noop,
    OptionReq,
    OptionRes,
    PreSleep,
    Priority,
    ResetAbilities,
    SetClientId,
    StatusRes,
    StatusResUnique,
    SubmitJob,
    SubmitJobEpoch,
    SubmitJobSched,
    SubmitReduceJob,
    Unused,
    WorkComplete,
    WorkData,
    WorkException,
    WorkFail,
    WorkStatus,
    WorkWarning,
)
from ._packets import LAYOUT, PacketType

P = PacketType
HIGH, NORMAL, LOW = Priority.HIGH, Priority.NORMAL, Priority.LOW


def atoi(field: bytes) -> int:
    """Parse an ASCII number as C's ``strtoll``/``atoi`` do: leading digits, else 0."""
    if field.isdigit():
        return int(field)
    text = field.lstrip(b" \t\n\r\f\v")
    sign = -1 if text[:1] == b"-" else 1
    if text[:1] in (b"-", b"+"):
        text = text[1:]
    end = 0
    while end < len(text) and 48 <= text[end] <= 57:
        end += 1
    return sign * int(text[:end]) if end else 0


def _flag(field: bytes) -> bool:
    return atoi(field) != 0


def _timeout(field: bytes) -> int:
    if len(field) > 20:
        raise RemoteProtocolError("CAN_DO_TIMEOUT timeout longer than 20 digits (gearmand closes)")
    timeout = atoi(field)
    if not -(2**63) < timeout < 2**63 - 1:  # strtol overflows or hits LONG_MIN/LONG_MAX
        raise RemoteProtocolError("CAN_DO_TIMEOUT timeout out of range (gearmand closes)")
    return timeout


def _epoch(field: bytes) -> int:
    epoch = atoi(field)
    if not -(2**63) <= epoch < 2**63:
        raise RemoteProtocolError("SUBMIT_JOB_EPOCH epoch out of range (gearmand closes)")
    return epoch


def _handle(field: bytes) -> bytes:
    # gearmand turns WORK_EXCEPTION into WORK_FAIL for clients without the exceptions
    # option and sends the handle with its trailing NUL; a handle never contains one.
    return field[:-1] if field.endswith(b"\0") else field


_CONVERT: Final[dict[str, Callable[[bytes], object]]] = {
    "handle": _handle,
    "number": atoi,
    "flag": _flag,
    "timeout": _timeout,
    "epoch": _epoch,
}

_SUBMIT = ("function", "unique", "data")
_REDUCE = ("function", "unique", "reducer", "aggregate", "data")
_STATUS = ("known:flag", "running:flag", "numerator:number", "denominator:number")

#: Per packet type: the event class, its fields in wire order (``name:converter`` for
#: numbers), and constant field values the packet type implies.
SPEC: Final[dict[int, tuple[type[Event], tuple[str, ...], dict[str, object]]]] = {
    P.CAN_DO: (CanDo, ("function",), {}),
    P.CANT_DO: (CantDo, ("function",), {}),
    P.RESET_ABILITIES: (ResetAbilities, (), {}),
    P.PRE_SLEEP: (PreSleep, (), {}),
    P.UNUSED: (Unused, (), {}),
    P.NOOP: (Noop, (), {}),
    P.SUBMIT_JOB: (SubmitJob, _SUBMIT, {"priority": NORMAL, "background": False}),
    P.JOB_CREATED: (JobCreated, ("handle",), {}),
    P.GRAB_JOB: (GrabJob, (), {}),
    P.NO_JOB: (NoJob, (), {}),
    P.JOB_ASSIGN: (JobAssign, ("handle", "function", "data"), {}),
    P.WORK_STATUS: (WorkStatus, ("handle", "numerator:number", "denominator:number"), {}),
    P.WORK_COMPLETE: (WorkComplete, ("handle", "data"), {}),
    P.WORK_FAIL: (WorkFail, ("handle:handle",), {}),
    P.GET_STATUS: (GetStatus, ("handle",), {}),
    P.ECHO_REQ: (EchoReq, ("data",), {}),
    P.ECHO_RES: (EchoRes, ("data",), {}),
    P.SUBMIT_JOB_BG: (SubmitJob, _SUBMIT, {"priority": NORMAL, "background": True}),
    P.ERROR: (Error, ("code", "text"), {}),
    P.STATUS_RES: (StatusRes, ("handle", *_STATUS), {}),
    P.SUBMIT_JOB_HIGH: (SubmitJob, _SUBMIT, {"priority": HIGH, "background": False}),
    P.SET_CLIENT_ID: (SetClientId, ("client_id",), {}),
    P.CAN_DO_TIMEOUT: (CanDoTimeout, ("function", "timeout:timeout"), {}),
    P.ALL_YOURS: (AllYours, (), {}),
    P.WORK_EXCEPTION: (WorkException, ("handle", "data"), {}),
    P.OPTION_REQ: (OptionReq, ("option",), {}),
    P.OPTION_RES: (OptionRes, ("option",), {}),
    P.WORK_DATA: (WorkData, ("handle", "data"), {}),
    P.WORK_WARNING: (WorkWarning, ("handle", "data"), {}),
    P.GRAB_JOB_UNIQ: (GrabJobUniq, (), {}),
    P.JOB_ASSIGN_UNIQ: (JobAssign, ("handle", "function", "unique", "data"), {}),
    P.SUBMIT_JOB_HIGH_BG: (SubmitJob, _SUBMIT, {"priority": HIGH, "background": True}),
    P.SUBMIT_JOB_LOW: (SubmitJob, _SUBMIT, {"priority": LOW, "background": False}),
    P.SUBMIT_JOB_LOW_BG: (SubmitJob, _SUBMIT, {"priority": LOW, "background": True}),
    P.SUBMIT_JOB_SCHED: (
        SubmitJobSched,
        ("function", "unique", "minute", "hour", "day_of_month", "month", "day_of_week", "data"),
        {},
    ),
    P.SUBMIT_JOB_EPOCH: (SubmitJobEpoch, ("function", "unique", "epoch:epoch", "data"), {}),
    P.SUBMIT_REDUCE_JOB: (SubmitReduceJob, _REDUCE, {"background": False}),
    P.SUBMIT_REDUCE_JOB_BACKGROUND: (SubmitReduceJob, _REDUCE, {"background": True}),
    P.GRAB_JOB_ALL: (GrabJobAll, (), {}),
    P.JOB_ASSIGN_ALL: (JobAssign, ("handle", "function", "unique", "reducer", "data"), {}),
    P.GET_STATUS_UNIQUE: (GetStatusUnique, ("unique",), {}),
    P.STATUS_RES_UNIQUE: (
        StatusResUnique,
        ("unique", *_STATUS, "client_count:number"),
        {},
    ),
}

SmallDecoder = Callable[[bytes], "Event | None"]
FastDecoder = Callable[[bytes, int, int, int], "Event | None"]
ListDecoder = Callable[[list[bytes]], Event]


class Entry(NamedTuple):
    """What the receive path needs to know about one packet type."""

    argc: int
    data: bool
    small: SmallDecoder
    fast: FastDecoder
    from_fields: ListDecoder
    name: str


def _generate(ptype: int) -> Entry:
    cls, wire, constants = SPEC[ptype]
    argc, data = LAYOUT[ptype]
    assert len(wire) == argc + data, PacketType(ptype).name
    env: dict[str, Any] = {"cls": cls, "twin": twin(cls), "new": object.__new__}
    given: dict[str, str] = {}
    for i, spec in enumerate(wire):
        name, _, conv = spec.partition(":")
        given[name] = f"v{i}" if not conv else f"c_{name}(v{i})"
        if conv:
            env[f"c_{name}"] = _CONVERT[conv]
    build = ["    o = new(twin)"]
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in given:
            env[f"d_{f.name}"] = constants.get(f.name, f.default)
        build.append(f"    o.{f.name} = {given.get(f.name, f'd_{f.name}')}")
    build += ["    o.__class__ = cls", "    return o"]
    fast = ["def fast(buf, start, end, nul_limit):", "    find = buf.find", "    p = start"]
    nuls = len(wire) - 1
    for i in range(nuls):
        fast += [
            "    n = find(b'\\0', p, nul_limit)",
            "    if n < 0:",
            "        return None",
            f"    v{i} = buf[p:n]",
            "    p = n + 1",
        ]
    if wire:
        fast.append(f"    v{nuls} = buf[p:end]")
    names = ", ".join(f"v{i}" for i in range(len(wire)))
    small = ["def small(payload):"]
    if nuls > 0:
        small += [
            "    try:",
            f"        {names}, = payload.split(b'\\0', {nuls})",
            "    except ValueError:",
            "        return None",
        ]
    elif wire:
        small.append("    v0 = payload")
    lst = ["def from_fields(f):", *(f"    v{i} = f[{i}]" for i in range(len(wire)))]
    for source in (fast, small, lst):
        exec("\n".join(source + build), env)  # the code is built from SPEC above
    return Entry(argc, data, env["small"], env["fast"], env["from_fields"], PacketType(ptype).name)


def split_prefix(buf: bytes, start: int, argc: int, nul_limit: int) -> list[bytes] | None:
    """The ``argc`` NUL-terminated fields from ``buf[start:]``, or ``None`` if one is missing.

    NULs are searched for only before ``nul_limit``: unlike gearmand, a missing NUL is an
    error, never a reason to read on into the next packet.
    """
    fields: list[bytes] = []
    pos = start
    for _ in range(argc):
        nul = buf.find(b"\0", pos, nul_limit)
        if nul < 0:
            return None
        fields.append(buf[pos:nul])
        pos = nul + 1
    return fields


#: Indexed by packet type; ``None`` for 0 (TEXT, internal to gearmand).
TABLE: Final[list[Entry | None]] = [None, *(_generate(t) for t in range(1, 43))]

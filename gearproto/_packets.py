"""The binary wire format: packet numbers, the argument table, and the encoders.

Every Gearman packet is a 12-byte header (magic ``\\0REQ`` or ``\\0RES``, type and
payload size as big-endian uint32) and a payload of NUL-separated fields. How the
payload splits is fixed per packet type by gearmand's command table
(``libgearman/command.cc``): ``argc`` fields, and either opaque trailing data after the
last NUL (``data=True``) or a last field with no terminator (``data=False``). Only the
last part may contain NUL bytes.

This module is pure functions and tables; the decoders are generated in
:mod:`gearproto._decode` from the same table; :mod:`gearproto._connection` drives both.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from typing import Any, Final

from ._errors import LocalProtocolError
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

__all__ = ("MAX_PAYLOAD_SIZE", "REQ", "RES", "PacketType")

REQ: Final = b"\0REQ"
RES: Final = b"\0RES"
HEADER: Final = struct.Struct(">4sII")
HEADER_SIZE: Final = 12
#: The size field is a uint32 and both gearmand packers refuse ``UINT32_MAX`` itself.
MAX_PAYLOAD_SIZE: Final = 0xFFFFFFFE

HIGH, NORMAL, LOW = Priority.HIGH, Priority.NORMAL, Priority.LOW


class PacketType(enum.IntEnum):
    """Packet type numbers (``libgearman-1.0/protocol.h``)."""

    CAN_DO = 1
    CANT_DO = 2
    RESET_ABILITIES = 3
    PRE_SLEEP = 4
    UNUSED = 5
    NOOP = 6
    SUBMIT_JOB = 7
    JOB_CREATED = 8
    GRAB_JOB = 9
    NO_JOB = 10
    JOB_ASSIGN = 11
    WORK_STATUS = 12
    WORK_COMPLETE = 13
    WORK_FAIL = 14
    GET_STATUS = 15
    ECHO_REQ = 16
    ECHO_RES = 17
    SUBMIT_JOB_BG = 18
    ERROR = 19
    STATUS_RES = 20
    SUBMIT_JOB_HIGH = 21
    SET_CLIENT_ID = 22
    CAN_DO_TIMEOUT = 23
    ALL_YOURS = 24
    WORK_EXCEPTION = 25
    OPTION_REQ = 26
    OPTION_RES = 27
    WORK_DATA = 28
    WORK_WARNING = 29
    GRAB_JOB_UNIQ = 30
    JOB_ASSIGN_UNIQ = 31
    SUBMIT_JOB_HIGH_BG = 32
    SUBMIT_JOB_LOW = 33
    SUBMIT_JOB_LOW_BG = 34
    SUBMIT_JOB_SCHED = 35
    SUBMIT_JOB_EPOCH = 36
    SUBMIT_REDUCE_JOB = 37
    SUBMIT_REDUCE_JOB_BACKGROUND = 38
    GRAB_JOB_ALL = 39
    JOB_ASSIGN_ALL = 40
    GET_STATUS_UNIQUE = 41
    STATUS_RES_UNIQUE = 42


P = PacketType

#: (argc, data) per packet type, exactly as ``libgearman/command.cc``.
LAYOUT: Final[dict[int, tuple[int, bool]]] = {
    P.CAN_DO: (1, False),
    P.CANT_DO: (1, False),
    P.RESET_ABILITIES: (0, False),
    P.PRE_SLEEP: (0, False),
    P.UNUSED: (0, False),
    P.NOOP: (0, False),
    P.SUBMIT_JOB: (2, True),
    P.JOB_CREATED: (1, False),
    P.GRAB_JOB: (0, False),
    P.NO_JOB: (0, False),
    P.JOB_ASSIGN: (2, True),
    P.WORK_STATUS: (3, False),
    P.WORK_COMPLETE: (1, True),
    P.WORK_FAIL: (1, False),
    P.GET_STATUS: (1, False),
    P.ECHO_REQ: (0, True),
    P.ECHO_RES: (0, True),
    P.SUBMIT_JOB_BG: (2, True),
    P.ERROR: (2, False),
    P.STATUS_RES: (5, False),
    P.SUBMIT_JOB_HIGH: (2, True),
    P.SET_CLIENT_ID: (1, False),
    P.CAN_DO_TIMEOUT: (2, False),
    P.ALL_YOURS: (0, False),
    P.WORK_EXCEPTION: (1, True),
    P.OPTION_REQ: (1, False),
    P.OPTION_RES: (1, False),
    P.WORK_DATA: (1, True),
    P.WORK_WARNING: (1, True),
    P.GRAB_JOB_UNIQ: (0, False),
    P.JOB_ASSIGN_UNIQ: (3, True),
    P.SUBMIT_JOB_HIGH_BG: (2, True),
    P.SUBMIT_JOB_LOW: (2, True),
    P.SUBMIT_JOB_LOW_BG: (2, True),
    P.SUBMIT_JOB_SCHED: (7, True),
    P.SUBMIT_JOB_EPOCH: (3, True),
    P.SUBMIT_REDUCE_JOB: (4, True),
    P.SUBMIT_REDUCE_JOB_BACKGROUND: (4, True),
    P.GRAB_JOB_ALL: (0, False),
    P.JOB_ASSIGN_ALL: (4, True),
    P.GET_STATUS_UNIQUE: (1, False),
    P.STATUS_RES_UNIQUE: (6, False),
}

#: Packets only a server sends. gearmand answers them with INVALID_COMMAND when a
#: client sends them with REQ magic.
RES_ONLY: Final = frozenset(
    {
        P.NOOP,
        P.JOB_CREATED,
        P.NO_JOB,
        P.JOB_ASSIGN,
        P.ECHO_RES,
        P.ERROR,
        P.STATUS_RES,
        P.OPTION_RES,
        P.JOB_ASSIGN_UNIQ,
        P.JOB_ASSIGN_ALL,
        P.STATUS_RES_UNIQUE,
    }
)
#: Packets that travel in both directions (worker → server → client).
BOTH_WAYS: Final = frozenset(
    {P.WORK_STATUS, P.WORK_COMPLETE, P.WORK_FAIL, P.WORK_EXCEPTION, P.WORK_DATA, P.WORK_WARNING}
)
#: Packets a client or worker may receive (RES magic).
RECEIVED_BY_PEER: Final = RES_ONLY | BOTH_WAYS
#: Packets a server may receive (REQ magic).
RECEIVED_BY_SERVER: Final = frozenset(LAYOUT) - RES_ONLY


# --------------------------------------------------------------------------- encode

#: Limits on what we send, from ``libgearman-1.0/limits.h``.
MAX_FUNCTION_SIZE: Final = 512
MAX_UNIQUE_SIZE: Final = 63
MAX_HANDLE_SIZE: Final = 63
MAX_CLIENT_ID_SIZE: Final = 254
MAX_OPTION_SIZE: Final = 63

Encoded = tuple[int, tuple[bytes, ...]]
"""(packet type, the payload's fields in wire order): the payload is their NUL-join.

Every packet is laid out this way: NUL-terminated arguments, then the data part or the
last argument. Packets without a payload have the one field ``b""``.
"""

_EMPTY: Final = (b"",)


def _check(value: bytes, what: str, limit: int | None = None) -> bytes:
    if not isinstance(value, bytes):
        raise LocalProtocolError(f"{what} must be bytes, not {type(value).__name__}")
    if 0 in value:  # the fast NUL test: `b"\0" in value` takes several times longer
        raise LocalProtocolError(f"{what} must not contain a NUL byte: {value!r}")
    if limit is not None and len(value) > limit:
        raise LocalProtocolError(f"{what} is {len(value)} bytes; the limit is {limit}")
    return value


def _data(value: bytes, what: str = "data") -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise LocalProtocolError(f"{what} must be bytes, not {type(value).__name__}")
    return value if isinstance(value, bytes) else bytes(value)


def _int(value: int, what: str, low: int = 0, high: int = 2**32 - 1) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise LocalProtocolError(f"{what} must be an integer in {low}..{high}, not {value!r}")
    return b"%d" % value


def _e_submit(e: SubmitJob) -> Encoded:
    p, bg, f, u, d = e.priority, e.background, e.function, e.unique, e.data
    if bg is not True and bg is not False:
        raise LocalProtocolError(f"bad priority/background: background={bg!r}")
    if p is NORMAL:
        ptype = 18 if bg else 7
    elif p is HIGH:
        ptype = 32 if bg else 21
    elif p is LOW:
        ptype = 34 if bg else 33
    else:
        raise LocalProtocolError(f"bad priority/background: priority={p!r}")
    if not (
        type(f) is bytes
        and type(u) is bytes
        and 0 not in f
        and 0 not in u
        and len(f) <= MAX_FUNCTION_SIZE
        and len(u) <= MAX_UNIQUE_SIZE
    ):
        f = _check(f, "function", MAX_FUNCTION_SIZE)
        u = _check(u, "unique", MAX_UNIQUE_SIZE)
    return ptype, (f, u, d if type(d) is bytes else _data(d))


def _e_epoch(e: SubmitJobEpoch) -> Encoded:
    return P.SUBMIT_JOB_EPOCH, (
        _check(e.function, "function", MAX_FUNCTION_SIZE),
        _check(e.unique, "unique", MAX_UNIQUE_SIZE),
        _int(e.epoch, "epoch", 0, 2**63 - 1),
        _data(e.data),
    )


def _e_reduce(e: SubmitReduceJob) -> Encoded:
    ptype = P.SUBMIT_REDUCE_JOB_BACKGROUND if e.background else P.SUBMIT_REDUCE_JOB
    return ptype, (
        _check(e.function, "function", MAX_FUNCTION_SIZE),
        _check(e.unique, "unique", MAX_UNIQUE_SIZE),
        _check(e.reducer, "reducer", MAX_FUNCTION_SIZE),
        _check(e.aggregate, "aggregate", MAX_FUNCTION_SIZE),
        _data(e.data),
    )


def _e_sched(e: SubmitJobSched) -> Encoded:
    return P.SUBMIT_JOB_SCHED, (
        _check(e.function, "function", MAX_FUNCTION_SIZE),
        _check(e.unique, "unique", MAX_UNIQUE_SIZE),
        _check(e.minute, "minute"),
        _check(e.hour, "hour"),
        _check(e.day_of_month, "day_of_month"),
        _check(e.month, "month"),
        _check(e.day_of_week, "day_of_week"),
        _data(e.data),
    )


def _e_assign(e: JobAssign) -> Encoded:
    h, f, u, r, d = e.handle, e.function, e.unique, e.reducer, e.data
    if type(d) is not bytes:
        d = _data(d)
    if (
        type(h) is bytes
        and type(f) is bytes
        and 0 not in h
        and 0 not in f
        and len(h) <= MAX_HANDLE_SIZE
    ):
        if u is None and r is None:
            return 11, (h, f, d)
        if type(u) is bytes and 0 not in u:
            if r is None:
                return 31, (h, f, u, d)
            if type(r) is bytes and 0 not in r:
                return 40, (h, f, u, r, d)
    if r is not None and u is None:
        raise LocalProtocolError("JobAssign with a reducer needs a unique (JOB_ASSIGN_ALL)")
    fields = [_check(h, "handle", MAX_HANDLE_SIZE), _check(f, "function")]
    fields += [_check(v, what) for v, what in ((u, "unique"), (r, "reducer")) if v is not None]
    return (11, 31, 40)[len(fields) - 2], (*fields, d)


def _e_handle_data(ptype: int) -> Callable[[WorkData], Encoded]:
    def encode(e: WorkData) -> Encoded:
        h, d = e.handle, e.data
        if type(h) is not bytes or 0 in h or len(h) > MAX_HANDLE_SIZE:
            _check(h, "handle", MAX_HANDLE_SIZE)
        return ptype, (h, d if type(d) is bytes else _data(d))

    return encode


def _e_status(e: WorkStatus) -> Encoded:
    return P.WORK_STATUS, (
        _check(e.handle, "handle", MAX_HANDLE_SIZE),
        _int(e.numerator, "numerator"),
        _int(e.denominator, "denominator"),
    )


def _status(e: StatusRes | StatusResUnique) -> tuple[bytes, ...]:
    """The four status fields that STATUS_RES and STATUS_RES_UNIQUE share."""
    return (
        b"1" if e.known else b"0",
        b"1" if e.running else b"0",
        _int(e.numerator, "numerator"),
        _int(e.denominator, "denominator"),
    )


def _e_status_res(e: StatusRes) -> Encoded:
    return P.STATUS_RES, (_check(e.handle, "handle"), *_status(e))


def _e_status_res_unique(e: StatusResUnique) -> Encoded:
    fields = (_check(e.unique, "unique"), *_status(e))
    return P.STATUS_RES_UNIQUE, (*fields, _int(e.client_count, "client_count"))


def _e_can_do_timeout(e: CanDoTimeout) -> Encoded:
    timeout = _int(e.timeout, "timeout", 0, 2**31 - 1)
    return P.CAN_DO_TIMEOUT, (_check(e.function, "function", MAX_FUNCTION_SIZE), timeout)


def _e_error(e: Error) -> Encoded:
    return P.ERROR, (_check(e.code, "code"), _data(e.text, "text"))


def _empty(ptype: int) -> Callable[[Event], Encoded]:
    return lambda e: (ptype, _EMPTY)


def _last(ptype: int, attr: str, what: str, limit: int | None) -> Callable[[Event], Encoded]:
    cap = MAX_PAYLOAD_SIZE if limit is None else limit

    def encode(e: Event) -> Encoded:
        value = getattr(e, attr)
        if type(value) is not bytes or 0 in value or len(value) > cap:
            _check(value, what, limit)
        return ptype, (value,)

    return encode


ENCODE: Final[dict[type[Event], Callable[[Any], Encoded]]] = {
    CanDo: _last(P.CAN_DO, "function", "function", MAX_FUNCTION_SIZE),
    CantDo: _last(P.CANT_DO, "function", "function", MAX_FUNCTION_SIZE),
    CanDoTimeout: _e_can_do_timeout,
    ResetAbilities: _empty(P.RESET_ABILITIES),
    PreSleep: _empty(P.PRE_SLEEP),
    Unused: _empty(P.UNUSED),
    Noop: _empty(P.NOOP),
    SubmitJob: _e_submit,
    SubmitJobEpoch: _e_epoch,
    SubmitReduceJob: _e_reduce,
    SubmitJobSched: _e_sched,
    JobCreated: _last(P.JOB_CREATED, "handle", "handle", MAX_HANDLE_SIZE),
    GrabJob: _empty(P.GRAB_JOB),
    GrabJobUniq: _empty(P.GRAB_JOB_UNIQ),
    GrabJobAll: _empty(P.GRAB_JOB_ALL),
    NoJob: _empty(P.NO_JOB),
    JobAssign: _e_assign,
    WorkStatus: _e_status,
    WorkComplete: _e_handle_data(P.WORK_COMPLETE),
    WorkData: _e_handle_data(P.WORK_DATA),
    WorkWarning: _e_handle_data(P.WORK_WARNING),
    WorkException: _e_handle_data(P.WORK_EXCEPTION),
    WorkFail: _last(P.WORK_FAIL, "handle", "handle", MAX_HANDLE_SIZE),
    GetStatus: _last(P.GET_STATUS, "handle", "handle", MAX_HANDLE_SIZE),
    GetStatusUnique: _last(P.GET_STATUS_UNIQUE, "unique", "unique", MAX_UNIQUE_SIZE),
    StatusRes: _e_status_res,
    StatusResUnique: _e_status_res_unique,
    EchoReq: lambda e: (P.ECHO_REQ, (_data(e.data),)),
    EchoRes: lambda e: (P.ECHO_RES, (_data(e.data),)),
    Error: _e_error,
    SetClientId: _last(P.SET_CLIENT_ID, "client_id", "client_id", MAX_CLIENT_ID_SIZE),
    AllYours: _empty(P.ALL_YOURS),
    OptionReq: _last(P.OPTION_REQ, "option", "option", MAX_OPTION_SIZE),
    OptionRes: _last(P.OPTION_RES, "option", "option", None),
}

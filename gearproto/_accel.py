"""The compiled fast paths (``gearproto._speedups``), set up from the Python tables.

gearproto is written in Python and complete without them. When the C extension is
built (a C compiler at install time), :class:`~gearproto.Connection` hands it the
common case on both paths: decoding a small complete packet, and encoding an event
whose fields are plain ``bytes`` within their limits. For anything else the extension
answers ``None`` and the Python code, which is the reference, does the work, so every
error, limit and message is the same either way. Setting the environment variable
``GEARPROTO_NO_EXTENSIONS`` to a non-empty value makes gearproto ignore the extension.

The extension knows nothing of Gearman by itself: it is told per packet type which
event class to build and through which slots (from :data:`gearproto._decode.SPEC`),
and per event class which fields to join, which limits to check and how its packet
type is chosen (from the same table, plus :data:`LIMITS` here).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import TYPE_CHECKING, Any, Final

from ._decode import _CONVERT, SPEC
from ._events import (
    CanDo,
    CantDo,
    Error,
    Event,
    GetStatus,
    GetStatusUnique,
    JobAssign,
    JobCreated,
    OptionReq,
    SetClientId,
    SubmitJob,
    SubmitJobSched,
    WorkComplete,
    WorkData,
    WorkException,
    WorkFail,
    WorkWarning,
)
from ._packets import (
    MAX_CLIENT_ID_SIZE,
    MAX_FUNCTION_SIZE,
    MAX_HANDLE_SIZE,
    MAX_OPTION_SIZE,
    MAX_UNIQUE_SIZE,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    #: decode(buf, pos, limit) -> (event, end, pair), or None to go the Python way.
    Decode = Callable[[bytes, int, int], "tuple[Event, int, bool] | None"]
    #: encode(event) -> the packet, or None to go the Python way.
    Encode = Callable[[Event], "bytes | None"]

_speedups: Any
try:
    if os.environ.get("GEARPROTO_NO_EXTENSIONS"):
        raise ImportError("GEARPROTO_NO_EXTENSIONS is set")
    from . import _speedups  # type: ignore[attr-defined, no-redef]
except ImportError:  # not built (no C compiler at install time), or turned off
    _speedups = None

#: Whether the compiled fast paths are in use.
COMPILED: Final[bool] = _speedups is not None

#: Longest value sent per (event class, field), as the encoders in
#: :mod:`gearproto._packets` check it; fields not named here have no limit of their own.
LIMITS: Final[dict[tuple[type[Event], str], int]] = {
    (CanDo, "function"): MAX_FUNCTION_SIZE,
    (CantDo, "function"): MAX_FUNCTION_SIZE,
    (SubmitJob, "function"): MAX_FUNCTION_SIZE,
    (SubmitJob, "unique"): MAX_UNIQUE_SIZE,
    (SubmitJobSched, "function"): MAX_FUNCTION_SIZE,
    (SubmitJobSched, "unique"): MAX_UNIQUE_SIZE,
    (JobCreated, "handle"): MAX_HANDLE_SIZE,
    (JobAssign, "handle"): MAX_HANDLE_SIZE,
    (WorkComplete, "handle"): MAX_HANDLE_SIZE,
    (WorkData, "handle"): MAX_HANDLE_SIZE,
    (WorkWarning, "handle"): MAX_HANDLE_SIZE,
    (WorkException, "handle"): MAX_HANDLE_SIZE,
    (WorkFail, "handle"): MAX_HANDLE_SIZE,
    (GetStatus, "handle"): MAX_HANDLE_SIZE,
    (GetStatusUnique, "unique"): MAX_UNIQUE_SIZE,
    (SetClientId, "client_id"): MAX_CLIENT_ID_SIZE,
    (OptionReq, "option"): MAX_OPTION_SIZE,
}
#: Fields that may hold NUL bytes: the opaque data part, and ERROR's text.
_OPAQUE: Final = {(Error, "text")}
#: Longer fields go the Python way, which never copies a large data part.
_ANY: Final = 32 * 1024
#: JobAssign's optional fields, which pick JOB_ASSIGN, JOB_ASSIGN_UNIQ or JOB_ASSIGN_ALL.
_OPTIONAL: Final = {(JobAssign, "unique"), (JobAssign, "reducer")}


def nothing(*args: object) -> None:
    """The decode or encode function without the extension: always the Python way."""
    return None


def _slot(cls: type[Event], name: str) -> object:
    return cls.__dict__[name]


def _decoder_spec(ptype: int, pair: bool) -> tuple[object, ...]:
    cls, wire, constants = SPEC[ptype]
    names = [spec.partition(":")[0] for spec in wire]
    convs = [_CONVERT[c] if c else None for c in (spec.partition(":")[2] for spec in wire)]
    rest = [f for f in dataclasses.fields(cls) if f.name not in names]  # type: ignore[arg-type]
    return (
        cls,
        tuple(_slot(cls, n) for n in names),
        tuple(convs),
        tuple(_slot(cls, f.name) for f in rest),
        tuple(constants.get(f.name, f.default) for f in rest),
        pair,
    )


@functools.cache
def decoder(magic: bytes, receivable: frozenset[int], unpaired: frozenset[type[Event]]) -> Decode:
    """The compiled decode function for packets with ``magic`` of the ``receivable`` types.

    Events of the ``unpaired`` classes come back with ``pair`` false; the others need
    the connection's pairing. :func:`nothing` without the extension.
    """
    if _speedups is None:
        return nothing
    specs: list[tuple[object, ...] | None] = [None] * 43
    for ptype in receivable:
        specs[ptype] = _decoder_spec(ptype, SPEC[ptype][0] not in unpaired)
    decode: Decode = _speedups.Decoder(magic, tuple(specs)).decode
    return decode


def _encoder_specs() -> dict[type[Event], tuple[object, ...]]:
    """Per event class whose fields are all bytes: how the extension encodes it."""
    by_class: dict[type[Event], list[int]] = {}
    for ptype, (cls, wire, _) in SPEC.items():
        if all(spec.partition(":")[2] in ("", "handle") for spec in wire):
            by_class.setdefault(cls, []).append(ptype)
    out: dict[type[Event], tuple[object, ...]] = {}
    for cls, ptypes in by_class.items():
        wire = max((SPEC[t][1] for t in ptypes), key=len)  # JobAssign: the longest form
        fields = []
        for spec in wire:
            name = spec.partition(":")[0]
            opaque = name == "data" or (cls, name) in _OPAQUE
            limit = -1 if opaque else LIMITS.get((cls, name), _ANY)
            fields.append((_slot(cls, name), limit, (cls, name) in _OPTIONAL))
        # Packet types that share a class differ by constants (SubmitJob: priority and
        # background) or by how many optional fields are present (JobAssign).
        chosen = sorted({k for t in ptypes for k in SPEC[t][2]})
        if not chosen:
            ptypes.sort(key=lambda t: len(SPEC[t][1]))
            out[cls] = (tuple(fields), tuple(ptypes), (), ())
        elif len(chosen) == 2:
            variants = tuple((*(SPEC[t][2][k] for k in chosen), t) for t in ptypes)
            out[cls] = (tuple(fields), (), tuple(_slot(cls, k) for k in chosen), variants)
    return out


_ENCODER_SPECS: Final = _encoder_specs() if _speedups is not None else {}


@functools.cache
def encoder(magic: bytes, sendable: Collection[type[Event]]) -> Encode:
    """The compiled encode function for packets with ``magic`` for the ``sendable`` events.

    :func:`nothing` without the extension.
    """
    if _speedups is None:
        return nothing
    specs = {cls: spec for cls, spec in _ENCODER_SPECS.items() if cls in sendable}
    encode: Encode = _speedups.Encoder(magic, specs).encode
    return encode

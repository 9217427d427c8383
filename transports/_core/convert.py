"""Accepting ``str`` or ``bytes`` from users, and priorities by name."""

from __future__ import annotations

import datetime
import ssl as _ssl
from typing import Literal, TypeAlias

import gearproto

__all__ = (
    "Data",
    "PriorityName",
    "epoch_seconds",
    "priority",
    "result_bytes",
    "tls_context",
    "to_bytes",
)

#: What users may pass as a name or as data.
Data: TypeAlias = "str | bytes | bytearray | memoryview"
#: A priority by name or as a :class:`gearproto.Priority`.
PriorityName: TypeAlias = 'Literal["high", "normal", "low"] | gearproto.Priority'


def to_bytes(value: Data | None, what: str = "value") -> bytes:
    """``value`` as bytes; ``str`` is encoded as UTF-8 and ``None`` is ``b""``."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")


def result_bytes(value: object) -> bytes:
    """A worker function's return value as the WORK_COMPLETE data."""
    if value is None:
        return b""
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return to_bytes(value)
    raise TypeError(
        f"a worker function must return str, bytes or None, not {type(value).__name__}"
    )


def priority(value: PriorityName) -> gearproto.Priority:
    """A :class:`gearproto.Priority` from ``"high"``, ``"normal"`` or ``"low"``."""
    if isinstance(value, gearproto.Priority):
        return value
    if isinstance(value, str) and (found := _PRIORITIES.get(value)) is not None:
        return found
    try:
        return gearproto.Priority(str(value).lower())
    except ValueError:
        raise ValueError(f"priority must be 'high', 'normal' or 'low', not {value!r}") from None


_PRIORITIES = {p.value: p for p in gearproto.Priority}


def epoch_seconds(when: float | datetime.datetime) -> int:
    """Unix seconds for an epoch job; naive datetimes are taken as local time."""
    if isinstance(when, datetime.datetime):
        return int(when.timestamp())
    return int(when)


def tls_context(ssl: _ssl.SSLContext | bool | None) -> _ssl.SSLContext | None:
    """The TLS context to use: ``True`` means a default, verifying one; falsy: no TLS."""
    if ssl is True:
        return _ssl.create_default_context()
    return ssl or None

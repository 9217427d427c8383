"""Admin commands (protocol.md §3) as :class:`gearproto.AdminCommand` and typed replies."""

from __future__ import annotations

from typing import TypeVar

import gearproto

from .._errors import AdminCommandError, GearmanError
from .convert import Data, to_bytes

__all__ = ("check", "command", "echoed", "maxqueue")

R = TypeVar("R", bound=gearproto.Event)


def command(word: str, *args: Data | int) -> gearproto.AdminCommand:
    """An admin command, e.g. ``command("cancel", "job", handle)``."""
    return gearproto.AdminCommand(
        command=word.encode("ascii"),
        args=tuple(b"%d" % a if isinstance(a, int) else to_bytes(a) for a in args),
    )


def check(reply: gearproto.Event, expected: type[R]) -> R:
    """``reply`` if it is an ``expected``; raise :class:`AdminCommandError` for ``ERR``."""
    if isinstance(reply, gearproto.AdminError):
        raise AdminCommandError(reply.code, reply.text)
    if not isinstance(reply, expected):
        raise GearmanError(f"unexpected admin reply {reply!r}")
    return reply


def maxqueue(function: Data, limits: tuple[int, ...]) -> gearproto.AdminCommand:
    """``maxqueue <function> [all | high normal [low]]``; no limits means unlimited."""
    if len(limits) > 3:
        raise ValueError("maxqueue takes at most three limits")
    return command("maxqueue", function, *limits)


def echoed(reply: gearproto.Event) -> bytes:
    """The data of an ECHO_RES; anything else is an error."""
    if not isinstance(reply, gearproto.EchoRes):
        raise GearmanError(f"unexpected answer to ECHO_REQ: {reply!r}")
    return reply.data

"""The two ways a Gearman conversation can go wrong, split by who is at fault."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._events import Error

__all__ = ("LocalProtocolError", "ProtocolError", "RemoteProtocolError")


class ProtocolError(Exception):
    """Base class for every protocol violation gearproto reports.

    After a :class:`ProtocolError` the :class:`~gearproto.Connection` that raised it is
    poisoned: its state becomes :attr:`~gearproto.ConnectionState.ERROR` and every later
    call raises again, so nobody keeps using a desynchronised stream.
    """

    def __init__(self, msg: str, *, error_hint: Error | None = None) -> None:
        super().__init__(msg)
        #: The ERROR packet gearmand sends to the peer in the same situation, or ``None``
        #: where gearmand simply closes the connection.
        self.error_hint = error_hint


class LocalProtocolError(ProtocolError):
    """We asked the connection to do something the protocol does not allow.

    Examples: sending a packet the role may not send, a NUL inside a function name, a
    ``WorkComplete`` for a job the worker does not hold. This is a bug in the caller.
    """


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that are not valid Gearman.

    :attr:`error_hint` is the :class:`~gearproto.Error` event gearmand answers with in
    the same case (for example ``INVALID_MAGIC`` for a ``\\0RES`` packet sent to a
    server); ``None`` means gearmand closes the connection without a word.
    """

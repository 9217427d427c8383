"""Blocking sockets: connect with TCP_NODELAY and keepalive, optionally over TLS."""

from __future__ import annotations

import socket
import ssl as _ssl

from .._core.servers import Address

__all__ = ("connect", "tune")


def tune(sock: socket.socket) -> None:
    """TCP_NODELAY (a Gearman round trip is small packets) and SO_KEEPALIVE."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


def connect(
    address: Address, timeout: float | None, ssl: _ssl.SSLContext | None = None
) -> socket.socket:
    """A connected blocking socket (no timeout once connected)."""
    sock = socket.create_connection((address.host, address.port), timeout=timeout)
    try:
        tune(sock)
        if ssl is not None:
            sock = ssl.wrap_socket(sock, server_hostname=address.host)
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return sock


def shutdown(sock: socket.socket) -> None:
    """Wake any thread blocked reading ``sock``, then close it."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()

"""Blocking sockets: connect with TCP_NODELAY and keepalive, optionally over TLS.

TLS runs over memory BIOs (:class:`TLSSocket`) rather than :class:`ssl.SSLSocket`: the
flavour reads in one thread while other threads write, and OpenSSL does not allow one
SSL object to be used from two threads at once. With BIOs the socket stays a plain
socket and every use of the SSL object is under a lock.
"""

from __future__ import annotations

import socket
import ssl as _ssl
import threading
from typing import TypeAlias

from .._core.servers import Address

__all__ = ("Socket", "TLSSocket", "connect", "shutdown", "tune")

_READ = 262144


class TLSSocket:
    """A TLS connection over a plain socket, safe for one reader and many writers."""

    def __init__(
        self, sock: socket.socket, context: _ssl.SSLContext, server_hostname: str
    ) -> None:
        self.sock = sock
        self._in = _ssl.MemoryBIO()
        self._out = _ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._in, self._out, server_hostname=server_hostname)
        # Records must reach the wire in the order they were made: making and sending
        # happen under one lock.
        self._lock = threading.Lock()
        while True:
            try:
                self._tls.do_handshake()
                break
            except _ssl.SSLWantReadError:
                self._flush()
                data = sock.recv(_READ)
                if not data:
                    raise ConnectionResetError(
                        "the server closed during the TLS handshake"
                    ) from None
                self._in.write(data)
        self._flush()

    def _flush(self) -> None:
        out = self._out.read()
        if out:
            self.sock.sendall(out)

    def fileno(self) -> int:
        """The socket's file descriptor (for select)."""
        return self.sock.fileno()

    def sendall(self, data: bytes) -> None:
        """Encrypt and send every byte."""
        with self._lock:
            self._tls.write(data)
            self._flush()

    def recv(self, bufsize: int) -> bytes:
        """Some decrypted bytes; ``b""`` at the end of the stream."""
        while True:
            data = self.sock.recv(bufsize)
            with self._lock:
                if not data:
                    self._in.write_eof()
                else:
                    self._in.write(data)
                chunks: list[bytes] = []
                try:
                    while True:
                        chunk = self._tls.read(bufsize)
                        if not chunk:
                            break
                        chunks.append(chunk)
                except _ssl.SSLWantReadError:
                    pass
                except _ssl.SSLZeroReturnError:
                    return b"".join(chunks)
                except _ssl.SSLEOFError:
                    if chunks:
                        return b"".join(chunks)
                    raise ConnectionResetError(
                        "TLS connection closed without close_notify"
                    ) from None
                self._flush()
            if chunks:
                return b"".join(chunks)
            if not data:
                return b""

    def shutdown(self, how: int) -> None:
        """Shut the underlying socket down."""
        self.sock.shutdown(how)

    def close(self) -> None:
        """Close the underlying socket."""
        self.sock.close()

    def settimeout(self, timeout: float | None) -> None:
        """Set the underlying socket's timeout."""
        self.sock.settimeout(timeout)


#: What the blocking flavour reads and writes.
Socket: TypeAlias = "socket.socket | TLSSocket"


def tune(sock: socket.socket) -> None:
    """TCP_NODELAY (a Gearman round trip is small packets) and SO_KEEPALIVE."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


def connect(address: Address, timeout: float | None, ssl: _ssl.SSLContext | None = None) -> Socket:
    """A connected blocking socket (no timeout once connected)."""
    sock = socket.create_connection((address.host, address.port), timeout=timeout)
    try:
        tune(sock)
        result: Socket = sock if ssl is None else TLSSocket(sock, ssl, address.host)
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return result


def shutdown(sock: Socket) -> None:
    """Wake any thread blocked reading ``sock``, then close it."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()

"""Run the Python ``gear`` library's job server (``gear.Server``) for benchmarks/server.py.

    python -m benchmarks.gear_server --port PORT [--nodelay]

``geard -d`` logs every packet at DEBUG level to stderr, which would measure logging;
this starts the same ``gear.Server`` with WARNING logging instead. ``gear.Server`` does
not set TCP_NODELAY on accepted connections, so small answers wait for the peer's
delayed ACK (about 40 ms here); ``--nodelay`` sets it on every accepted connection to
measure the server itself rather than Nagle's algorithm.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
from typing import Any

import gear


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    parser.add_argument(
        "--nodelay", action="store_true", help="set TCP_NODELAY on accepted connections"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.nodelay:
        original = gear.ServerConnection.__init__

        def init(self: Any, addr: Any, conn: socket.socket, *rest: Any, **kw: Any) -> None:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            original(self, addr, conn, *rest, **kw)

        gear.ServerConnection.__init__ = init
    gear.Server(args.port, host="127.0.0.1")
    signal.pause()


if __name__ == "__main__":
    main()

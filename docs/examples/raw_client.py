"""Submit one job and print its result, with gearproto over a blocking socket.

Usage: python raw_client.py HOST:PORT FUNCTION DATA
"""

from __future__ import annotations

import socket
import sys

import gearproto


def call(address: str, function: bytes, data: bytes) -> bytes:
    """Run ``function`` on ``data`` through the job server at ``address``."""
    host, _, port = address.rpartition(":")
    conn = gearproto.Connection(gearproto.CLIENT)
    with socket.create_connection((host, int(port))) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(conn.send(gearproto.SubmitJob(function=function, data=data)))
        handle = None
        while True:
            event = conn.next_event()
            if event is gearproto.NEED_DATA:
                conn.receive_data(sock.recv(65536))  # b"" at EOF is passed on as is
            elif isinstance(event, gearproto.JobCreated):
                handle = event.handle  # the server queued the job
            elif isinstance(event, gearproto.Error):
                raise RuntimeError(f"server refused the job: {event.code!r} {event.text!r}")
            elif isinstance(event, gearproto.WorkComplete) and event.handle == handle:
                return event.data
            elif isinstance(event, gearproto.WorkFail) and event.handle == handle:
                raise RuntimeError("the job failed")
            elif isinstance(event, gearproto.ConnectionClosed):
                raise RuntimeError("the server closed the connection")


if __name__ == "__main__":
    print(call(sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()).decode())

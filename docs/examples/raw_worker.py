"""A worker for the ``reverse`` function, with gearproto over a blocking socket.

Usage: python raw_worker.py HOST:PORT [JOBS]   (stops after JOBS jobs; default: never)
"""

from __future__ import annotations

import socket
import sys

import gearproto


def serve(address: str, jobs: int | None = None) -> None:
    """Register ``reverse`` at ``address`` and run jobs until ``jobs`` are done."""
    host, _, port = address.rpartition(":")
    conn = gearproto.Connection(gearproto.WORKER)
    with socket.create_connection((host, int(port))) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(conn.send(gearproto.CanDo(function=b"reverse")))
        sock.sendall(conn.send(gearproto.GrabJobUniq()))
        while jobs is None or jobs > 0:
            event = conn.next_event()
            if event is gearproto.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, gearproto.JobAssign):
                result = gearproto.WorkComplete(handle=event.handle, data=event.data[::-1])
                sock.sendall(conn.send(result) + conn.send(gearproto.GrabJobUniq()))
                jobs = None if jobs is None else jobs - 1
            elif isinstance(event, gearproto.NoJob):
                sock.sendall(conn.send(gearproto.PreSleep()))  # wake me with a NOOP
            elif isinstance(event, gearproto.Noop):
                sock.sendall(conn.send(gearproto.GrabJobUniq()))
            elif isinstance(event, gearproto.ConnectionClosed):
                return


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)

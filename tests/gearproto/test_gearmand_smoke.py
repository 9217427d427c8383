import socket

import pytest

import gearproto
from tests.peers import RunningServer

pytestmark = pytest.mark.gearmand


def test_echo_against_gearmand(gearmand: RunningServer) -> None:
    conn = gearproto.Connection(gearproto.CLIENT)
    with socket.create_connection(("127.0.0.1", gearmand.port), timeout=5) as sock:
        sock.sendall(conn.send(gearproto.EchoReq(data=b"ping\0pong")))
        while (event := conn.next_event()) is gearproto.NEED_DATA:
            conn.receive_data(sock.recv(65536))
    assert event == gearproto.EchoRes(data=b"ping\0pong")

"""Several servers, failures and restarts: no job is silently lost."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import gearproto
from tests.peers import RunningServer, free_port, run_gearmand
from tests.server.proc import run_ours

from .flavours import Flavour
from .servers import gearmand_on

pytestmark = pytest.mark.timeout(45)


def reverse(job: Any) -> bytes:
    return bytes(job.data[::-1])


def test_job_of_a_vanished_worker_is_requeued(fl: Flavour, gearmand: RunningServer) -> None:
    with fl.client(gearmand.address) as client:
        task = client.add_task("reverse", b"again")
        # A worker grabs the job and dies without an answer.
        conn = gearproto.Connection(gearproto.WORKER)
        with socket.create_connection(("127.0.0.1", gearmand.port)) as sock:
            sock.sendall(conn.send(gearproto.CanDo(function=b"reverse")))
            sock.sendall(conn.send(gearproto.GrabJob()))
            event: Any = gearproto.NEED_DATA
            while event is gearproto.NEED_DATA or isinstance(event, gearproto.NoJob):
                if isinstance(event, gearproto.NoJob):
                    sock.sendall(conn.send(gearproto.GrabJob()))
                event = conn.next_event()
                if event is gearproto.NEED_DATA:
                    conn.receive_data(sock.recv(65536))
            assert isinstance(event, gearproto.JobAssign)
        worker = fl.make_worker(gearmand.address)
        worker.register("reverse", reverse)
        with fl.working(worker):
            assert task.result(10) == b"niaga"


def test_worker_reconnects_after_a_server_restart(fl: Flavour) -> None:
    port = free_port()
    worker = fl.make_worker(f"127.0.0.1:{port}")
    worker.register("reverse", reverse)
    with gearmand_on(port) as server, fl.working(worker):
        with fl.client(server.address) as client:
            assert client.submit("reverse", b"one", timeout=10) == b"eno"
        server.stop()
        with gearmand_on(port) as again, fl.client(again.address) as client:
            # The worker re-registers on its own; the job waits for it meanwhile.
            assert client.submit("reverse", b"two", timeout=20) == b"owt"


def test_worker_keeps_working_while_a_server_is_down(fl: Flavour, gearmand: RunningServer) -> None:
    dead = f"127.0.0.1:{free_port()}"
    worker = fl.make_worker([dead, gearmand.address])
    worker.register("reverse", reverse)
    with fl.working(worker), fl.client([dead, gearmand.address]) as client:
        for i in range(6):  # round robin tries the dead server first every other job
            assert client.submit("reverse", b"%d!" % i, timeout=10) == b"!%d" % i


@contextlib.contextmanager
def black_hole() -> Iterator[str]:
    """A server that accepts, reads one request, and hangs up without answering."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
        listener.close()
        thread.join(5)


def test_unanswered_submit_is_resent_to_the_next_server(
    fl: Flavour, gearmand: RunningServer
) -> None:
    worker = fl.make_worker(gearmand.address)
    worker.register("reverse", reverse)
    with black_hole() as hole, fl.working(worker), fl.client([hole, gearmand.address]) as client:
        # Round robin starts with the first server: the black hole.
        assert client.submit("reverse", b"resent", timeout=10) == b"tneser"


def test_jobs_spread_by_unique_and_round_robin(fl: Flavour) -> None:
    with run_gearmand("--threads=1") as one, run_gearmand("--threads=1") as two:
        servers = [one.address, two.address]
        with fl.client(servers) as client:
            uniques = [f"u{i}" for i in range(12)]
            for unique in uniques:
                client.submit_background("spread", b"", unique=unique)
                client.submit_background("spread", b"", unique=unique)  # same server
            for _ in range(4):
                client.submit_background("rr", b"")
        held = []
        for server in (one, two):
            with fl.admin(server.address) as admin:
                held.append(set(admin.show_unique_jobs()))
                counts = {s.function: s.total for s in admin.status()}
                assert counts[b"rr"] == 2
        for unique in uniques:
            expected = zlib.crc32(unique.encode()) % 2
            assert unique.encode() in held[expected]
            assert unique.encode() not in held[1 - expected]


@pytest.mark.parametrize(
    "start", [lambda: run_gearmand("--threads=1"), run_ours], ids=["gearmand", "gearproto-server"]
)
def test_failover_when_a_server_dies_mid_run(
    fl: Flavour, start: Callable[[], contextlib.AbstractContextManager[RunningServer]]
) -> None:
    with start() as one, start() as two:
        servers = [one.address, two.address]
        release = threading.Event()
        started = threading.Semaphore(0)
        worker = fl.make_worker(servers, concurrency=8)

        @worker.function("slow")
        def _slow(job: Any) -> bytes:
            started.release()
            assert release.wait(20)
            return b"done " + bytes(job.data)

        with fl.working(worker), fl.client(servers) as client:
            tasks = [client.add_task("slow", b"%d" % i) for i in range(8)]
            for _ in range(8):
                assert started.acquire(timeout=10)
            one.stop()  # four jobs were running through this server
            release.set()
            client.wait(tasks, 20)
            outcomes = []
            for i, task in enumerate(tasks):
                try:
                    outcomes.append(task.result())
                    assert outcomes[-1] == b"done %d" % i
                except fl.ConnectionLost:
                    outcomes.append(None)
            # Every job either completed or told its caller the server was lost.
            assert outcomes.count(None) == 4
            # New jobs go to the surviving server.
            more = [client.add_task("slow", b"%d" % i) for i in range(6)]
            assert [t.result(20) for t in more] == [b"done %d" % i for i in range(6)]


def test_a_dead_server_is_retried_after_its_back_off(fl: Flavour) -> None:
    port = free_port()
    with run_gearmand("--threads=1") as other:
        servers = [f"127.0.0.1:{port}", other.address]
        # Unique ids that hash to the first server.
        first, unique = [
            u for u in (f"k{i}" for i in range(100)) if zlib.crc32(u.encode()) % 2 == 0
        ][:2]
        with fl.client(servers) as client:
            # The first server is down: the job goes to the other one.
            client.submit_background("f", b"", unique=first)
            with fl.admin(other.address) as admin:
                assert first.encode() in admin.show_unique_jobs()
            with gearmand_on(port) as back:
                deadline = time.monotonic() + 15
                while True:  # after the back-off, jobs go to the first server again
                    client.submit_background("f", b"", unique=unique)
                    with fl.admin(back.address) as admin:
                        if unique.encode() in admin.show_unique_jobs():
                            break
                    assert time.monotonic() < deadline, "the server was never retried"
                    time.sleep(0.1)


@contextlib.contextmanager
def hang_up() -> Iterator[str]:
    """A server that accepts and closes every connection at once."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)


def test_a_server_that_hangs_up_at_once_is_an_error_not_a_wait(fl: Flavour) -> None:
    # The async clients used to write the request to a connection whose reader had
    # already seen EOF, then wait for an answer that never came.
    with hang_up() as address:
        for _ in range(10):
            with (
                fl.client(address) as client,
                pytest.raises((fl.NoServersAvailable, fl.ConnectionLost)),
            ):
                client.echo(b"x", timeout=5)

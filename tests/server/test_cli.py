"""The ``gearproto-server`` command: options, signals, pid file, TLS."""

from __future__ import annotations

import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

import gearproto._accel
from server import SqliteStore
from server.cli import build, parser

from .proc import env, run_ours
from .wire import (
    CAN_DO,
    ECHO_REQ,
    ECHO_RES,
    GRAB_JOB,
    JOB_ASSIGN,
    SUBMIT_JOB,
    h,
    req,
    res,
    running,
)

pytestmark = pytest.mark.timeout(60)


def test_help_lists_every_option() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "server", "--help"],
        env=env(),
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    for option in (
        "--port", "--listen", "--job-retries", "--worker-wakeup", "--job-handle-prefix",
        "--keepalive", "--keepalive-idle", "--keepalive-interval", "--keepalive-count",
        "--ssl", "--ssl-ca-file", "--ssl-certificate", "--ssl-key", "--verbose",
        "--log-file", "--pid-file", "--exceptions", "--queue-type", "--sqlite-db",
        "--libsqlite3-db", "--libsqlite3-table", "--store-queue-on-shutdown", "--backend",
        "--metrics-port", "--metrics-listen",
    ):  # fmt: skip
        assert option in out, option


@pytest.mark.parametrize("pure", [False, True])
def test_version_says_whether_the_speedups_are_in_use(pure: bool) -> None:
    extra = {"GEARPROTO_NO_EXTENSIONS": "1"} if pure else {}
    out = subprocess.run(
        [sys.executable, "-m", "server", "--version"],
        env={**env(), **extra},
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    core = "pure Python" if pure or not gearproto._accel.COMPILED else "compiled speedups"
    assert out.startswith("gearproto-server ") and f"(protocol core: {core})" in out


def test_make_serve_command_line(tmp_path: Path) -> None:
    # The exact arguments of `make serve`, with the port left to the OS.
    args = parser().parse_args(
        ["--port", "0", "--queue-type", "sqlite", "--sqlite-db", str(tmp_path / "g.sqlite")]
    )
    server = build(args)
    assert isinstance(server.store, SqliteStore)
    server.store.close()
    args = parser().parse_args(["-q", "libsqlite3", "--libsqlite3-db", str(tmp_path / "x")])
    server = build(args)
    assert isinstance(server.store, SqliteStore)
    server.store.close()


def test_metrics_options_reach_the_server() -> None:
    options = build(parser().parse_args(["--metrics-port", "9101"])).options
    assert (options.metrics_port, options.metrics_host) == (9101, "127.0.0.1")
    options = build(parser().parse_args(["--metrics-port=0", "--metrics-listen=::1"])).options
    assert (options.metrics_port, options.metrics_host) == (0, "::1")
    assert build(parser().parse_args([])).options.metrics_port is None


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _recv(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk
        data += chunk
    return data


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sigterm_exits_and_removes_pid_file(tmp_path: Path, backend: str) -> None:
    pid_file = tmp_path / "server.pid"
    with run_ours(f"--pid-file={pid_file}", f"--backend={backend}") as server:
        assert int(pid_file.read_text()) == server.proc.pid
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=10) == 0
    assert not pid_file.exists()


def test_sigusr1_waits_for_running_jobs(tmp_path: Path) -> None:
    with run_ours("--job-handle-prefix=H:t") as server:
        c = _connect(server.port)
        w = _connect(server.port)
        c.sendall(req(SUBMIT_JOB, b"f", b"", b"d"))
        _recv(c, 12 + 5)
        w.sendall(req(CAN_DO, b"f") + req(GRAB_JOB))
        assert _recv(w, 12 + 9) == res(JOB_ASSIGN, h(1), b"f", b"d")
        server.proc.send_signal(signal.SIGUSR1)
        with pytest.raises(subprocess.TimeoutExpired):
            server.proc.wait(timeout=0.5)  # a job is running: still up
        w.sendall(req(ECHO_REQ, b"still"))  # existing connections are served
        assert _recv(w, 12 + 5) == res(ECHO_RES, b"still")
        w.sendall(req(13, h(1), b"done"))
        assert _recv(c, 12 + 10) == res(13, h(1), b"done")
        assert server.proc.wait(timeout=10) == 0
        c.close()
        w.close()


def _certificates(tmp: Path) -> tuple[Path, Path, Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (Debian package: openssl)")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=30)

    ca_key, ca = tmp / "ca.key", tmp / "ca.pem"
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "2", "-subj", "/CN=test-ca")  # fmt: skip
    pairs = []
    for name in ("server", "client"):
        key, csr, cert = tmp / f"{name}.key", tmp / f"{name}.csr", tmp / f"{name}.pem"
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")  # fmt: skip
        ext = tmp / "ext.cnf"
        ext.write_text("subjectAltName=IP:127.0.0.1\n")
        run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))  # fmt: skip
        pairs.append((cert, key))
    return ca, pairs[0][0], pairs[0][1], tmp / "client"


@pytest.mark.anyio
@pytest.mark.parametrize("verify_client", [False, True])
async def test_tls(tmp_path: Path, verify_client: bool) -> None:
    ca, cert, key, client = _certificates(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    if verify_client:
        server_ctx.load_verify_locations(ca)
        server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.create_default_context(cafile=str(ca))
    client_ctx.load_cert_chain(f"{client}.pem", f"{client}.key")
    async with running(ssl_context=server_ctx) as s:
        stream = await anyio.connect_tcp(
            "127.0.0.1", s.port, tls=True, ssl_context=client_ctx, tls_standard_compatible=False
        )
        async with stream:
            await stream.send(req(ECHO_REQ, b"over tls") + b"status\n")
            data = b""
            with anyio.fail_after(10):
                while not data.endswith(b".\n"):
                    data += await stream.receive()
            assert data == res(ECHO_RES, b"over tls") + b".\n"
        if verify_client:
            bare = ssl.create_default_context(cafile=str(ca))
            with pytest.raises((ssl.SSLError, anyio.BrokenResourceError, anyio.EndOfStream)):
                stream = await anyio.connect_tcp(
                    "127.0.0.1", s.port, tls=True, ssl_context=bare, tls_standard_compatible=False
                )
                async with stream:
                    await stream.send(req(ECHO_REQ, b"x"))
                    await stream.receive()


def _submit_background(port: int, jobs: dict[bytes, bytes]) -> None:
    c = _connect(port)
    c.sendall(b"".join(req(18, b"f", u, d) for u, d in jobs.items()))
    for _ in jobs:
        head = _recv(c, 12)
        assert head[4:8] == b"\0\0\0\x08", head
        _recv(c, int.from_bytes(head[8:], "big"))
    c.close()


def _drain(port: int) -> list[bytes]:
    w = _connect(port)
    w.sendall(req(CAN_DO, b"f"))
    got: list[bytes] = []
    while True:
        w.sendall(req(GRAB_JOB))
        head = _recv(w, 12)
        body = _recv(w, int.from_bytes(head[8:], "big"))
        if head[4:8] == b"\0\0\0\x0a":  # NO_JOB
            w.close()
            return got
        handle, _, data = body.split(b"\0", 2)
        got.append(data)
        w.sendall(req(13, handle, b""))


def test_gearmand_sqlite_queue_taken_over_and_handed_back(tmp_path: Path) -> None:
    from tests.peers import run_gearmand

    db = tmp_path / "queue.sqlite"
    first = {b"g%d" % i: b"from-gearmand-%d" % i for i in range(20)}
    with run_gearmand("--threads=1", "-q", "libsqlite3", f"--libsqlite3-db={db}") as g:
        _submit_background(g.port, first)
    with run_ours("--queue-type=sqlite", f"--sqlite-db={db}") as ours:
        assert sorted(_drain(ours.port)) == sorted(first.values())
        second = {b"o%d" % i: b"from-us-%d" % i for i in range(20)}
        _submit_background(ours.port, second)
    with run_gearmand("--threads=1", "-q", "libsqlite3", f"--libsqlite3-db={db}") as g:
        assert sorted(_drain(g.port)) == sorted(second.values())


def test_store_queue_on_shutdown_with_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "queue.sqlite"
    args = ("--queue-type=sqlite", f"--sqlite-db={db}", "--store-queue-on-shutdown")
    jobs = {b"u%d" % i: b"kept-%d" % i for i in range(10)}
    with run_ours(*args) as server:
        _submit_background(server.port, jobs)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=10) == 0
    with run_ours(*args) as server:
        assert sorted(_drain(server.port)) == sorted(jobs.values())


def test_sighup_reopens_the_log_file(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with run_ours(f"--log-file={log}", "--verbose=INFO") as server:
        rotated = tmp_path / "server.log.1"
        deadline = time.monotonic() + 10
        while "listening" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        log.rename(rotated)
        server.proc.send_signal(signal.SIGHUP)
        while not (log.exists() and "reopened" in log.read_text()):
            assert time.monotonic() < deadline
            time.sleep(0.02)

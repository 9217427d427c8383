"""Clients side by side against one gearmand: ``python -m benchmarks.transports``.

    python -m benchmarks.transports [--only NAME ...] [--rounds N]

Every contender calls the same echo functions through the same gearmand (one I/O
thread) with 64-byte payloads. They are served by ``benchmarks/loadgen.c``
(compiled at run time, as for ``benchmarks.server``) in its ``serve`` mode, so that
the worker does not set the pace: one worker connection for the round trips (gearmand
wakes every idle worker of a function for each job) and eight for the jobs in flight.
Each contender is measured on:

* sequential foreground round trips per second (submit, wait for the result, repeat);
* jobs per second with 100 in flight (submit 100, wait for all of them, repeat);

and, for both, the client process's own CPU time per job: on a small machine the
client shares the cores with gearmand and the worker, so the CPU it spends per job
is the part of the cost that belongs to the client library.

Contenders: our sync, asyncio (also on uvloop) and trio clients; the ``gear`` client;
the ``pygearman`` client (skipped, and said so, if it is not installed); and a
raw-socket loop driven by gearproto alone, the floor for latency. ``--only`` keeps
the raw loop and the contenders whose name contains one of the words given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

import gearproto
from benchmarks.server import compile_loadgen

PAYLOAD = b"x" * 64
# The echo functions and how many worker connections serve each (benchmarks/loadgen.c).
# One for round trips: gearmand wakes every sleeping worker of a function for each
# new job, so eight idle workers would cost the machine eight wake-ups per round trip.
# Eight with 100 jobs in flight, so that the jobs wait on the client, not a worker.
ONE, MANY = "echo", "echo8"
WORKERS = {ONE: 1, MANY: 8}
WINDOW = 100
RAW = "gearproto raw socket"
DURATION = 0.4  # seconds per measurement
ROUNDS = 8


# --------------------------------------------------------------------- measuring


Figure = tuple[float, float]
"""Jobs per second, and this process's CPU microseconds per job (the client's cost)."""


def rate(step: Callable[[], int]) -> Figure:
    """How fast ``step`` (which returns how many jobs it ran) runs jobs."""
    step()  # warm up
    jobs = 0
    cpu = time.process_time()
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < DURATION:
        jobs += step()
    return jobs / elapsed, (time.process_time() - cpu) * 1e6 / jobs


def raw_gearproto(port: int) -> tuple[Figure, Figure]:
    conn = gearproto.Connection(gearproto.CLIENT)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run(n: int, function: str) -> int:
        submit = gearproto.SubmitJob(function=function.encode(), data=PAYLOAD)
        sock.sendall(b"".join(conn.send(submit) for _ in range(n)))
        done = 0
        while done < n:
            conn.receive_data(sock.recv(262144))
            done += sum(isinstance(e, gearproto.WorkComplete) for e in conn.events())
        return n

    try:
        return rate(lambda: run(1, ONE)), rate(lambda: run(WINDOW, MANY))
    finally:
        sock.close()


def ours_sync(port: int) -> tuple[Figure, Figure]:
    from transports.sync import Client

    with Client(f"127.0.0.1:{port}") as client:

        def one() -> int:
            client.submit(ONE, PAYLOAD)
            return 1

        def window() -> int:
            client.wait([client.add_task(MANY, PAYLOAD) for _ in range(WINDOW)])
            return WINDOW

        return rate(one), rate(window)


def ours_async(flavour: str, port: int, uvloop: bool = False) -> tuple[Figure, Figure]:
    module: Any = __import__(f"transports.{flavour}", fromlist=["Client"])

    async def measure() -> tuple[Figure, Figure]:
        async with module.Client(f"127.0.0.1:{port}") as client:

            async def arate(step: Callable[[], Any]) -> Figure:
                await step()
                jobs = 0
                cpu = time.process_time()
                start = time.perf_counter()
                while (elapsed := time.perf_counter() - start) < DURATION:
                    jobs += await step()
                return jobs / elapsed, (time.process_time() - cpu) * 1e6 / jobs

            async def one() -> int:
                await client.submit(ONE, PAYLOAD)
                return 1

            async def window() -> int:
                tasks = [await client.add_task(MANY, PAYLOAD) for _ in range(WINDOW)]
                await client.wait(tasks)
                return WINDOW

            return await arate(one), await arate(window)

    options = {"use_uvloop": True} if uvloop else {}
    return anyio.run(measure, backend=flavour, backend_options=options)


def gear_client(port: int) -> tuple[Figure, Figure]:
    import gear

    class Client(gear.Client):  # type: ignore[misc]
        def handleWorkComplete(self, packet: Any) -> Any:
            job = super().handleWorkComplete(packet)
            job.done_event.set()
            return job

    client = Client("bench")
    client.addServer("127.0.0.1", port)
    client.waitForServer()

    def submit(function: str) -> Any:
        job = gear.Job(function.encode(), PAYLOAD)
        job.done_event = threading.Event()
        client.submitJob(job)
        return job

    def one() -> int:
        submit(ONE).done_event.wait()
        return 1

    def window() -> int:
        for job in [submit(MANY) for _ in range(WINDOW)]:
            job.done_event.wait()
        return WINDOW

    try:
        return rate(one), rate(window)
    finally:
        client.shutdown()


def pygearman_client(port: int) -> tuple[Figure, Figure]:
    import gearman  # type: ignore[import-untyped,import-not-found,unused-ignore]

    client = gearman.GearmanClient([f"127.0.0.1:{port}"])

    # Without a poll_timeout, pygearman 0.2.6 returns before the jobs complete.
    def one() -> int:
        request = client.submit_job(ONE.encode(), PAYLOAD, poll_timeout=60)
        assert request.result == PAYLOAD
        return 1

    def window() -> int:
        jobs = [{"task": MANY.encode(), "data": PAYLOAD} for _ in range(WINDOW)]
        requests = client.submit_multiple_jobs(jobs, poll_timeout=60)
        assert all(r.result == PAYLOAD for r in requests)
        return WINDOW

    return rate(one), rate(window)


# --------------------------------------------------------------------- main


def start_gearmand(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = "/usr/sbin/gearmand" if os.access("/usr/sbin/gearmand", os.X_OK) else None
    binary = binary or shutil.which("gearmand")
    if binary is None:
        sys.exit("gearmand is not installed (Debian package gearman-job-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    proc = subprocess.Popen(
        [binary, "--listen=127.0.0.1", f"--port={port}", "--threads=1", f"--log-file={tmp}/log"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", nargs="*", default=[], help="contenders whose name contains one of these"
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds")
    args = parser.parse_args()
    contenders: list[tuple[str, Callable[[int], tuple[Figure, Figure]]]] = [
        (RAW, raw_gearproto),
        ("transports.sync", ours_sync),
        ("transports.asyncio", lambda port: ours_async("asyncio", port)),
        ("transports.asyncio+uv", lambda port: ours_async("asyncio", port, uvloop=True)),
        ("transports.trio", lambda port: ours_async("trio", port)),
        ("gear", gear_client),
        ("pygearman", pygearman_client),
    ]
    contenders = [
        (name, measure)
        for name, measure in contenders
        if name == RAW or not args.only or any(part in name for part in args.only)
    ]
    results: dict[str, tuple[Figure, Figure]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        loadgen = compile_loadgen(Path(tmp))
        server, port = start_gearmand(Path(tmp))
        workers = [
            subprocess.Popen([str(loadgen), "serve", "127.0.0.1", str(port), str(n), function])
            for function, n in WORKERS.items()
        ]
        try:
            for _round in range(args.rounds):  # interleaved rounds; the best of each is kept
                for name, measure in contenders:
                    try:
                        seq, win = measure(port)
                    except ImportError as exc:
                        if not _round:
                            print(f"{name}: skipped, not installed ({exc})")
                        continue
                    old = results.get(name, ((0.0, 0.0), (0.0, 0.0)))
                    results[name] = (max(old[0], seq), max(old[1], win))
        finally:
            for proc in [*workers, server]:
                proc.kill()
                proc.wait()
    peers = [results[p] for p in ("gear", "pygearman") if p in results]
    best_seq = max((r[0][0] for r in peers), default=0.0)
    best_win = max((r[1][0] for r in peers), default=0.0)
    lean_seq = min((r[0][1] for r in peers), default=0.0)
    lean_win = min((r[1][1] for r in peers), default=0.0)
    raw_seq = results[RAW][0][0]
    print(
        f"\n64-byte echo through gearmand, best of {args.rounds} x {DURATION:.1f} s per figure "
        f"({os.cpu_count()} CPUs); CPU = client process CPU per job"
    )
    header = (
        f"{'client':<21}{'round trips/s':>14}{'latency':>9}{'vs raw':>8}{'vs peer':>8}"
        f"{'CPU':>7}{'cheaper':>8} |{'100 in flight/s':>16}{'vs peer':>8}{'CPU':>7}{'cheaper':>8}"
    )
    print(header)
    print("-" * len(header))

    def ratio(a: float, b: float) -> str:
        return f"{a / b:>7.2f}x" if a and b else f"{'-':>8}"

    for name, ((one, one_cpu), (many, many_cpu)) in results.items():
        print(
            f"{name:<21}{one:>14,.0f}{1e6 / one:>7.0f}µs{ratio(raw_seq, one)}"
            f"{ratio(one, best_seq)}{one_cpu:>5.0f}µs{ratio(lean_seq, one_cpu)} |"
            f"{many:>16,.0f}{ratio(many, best_win)}{many_cpu:>5.0f}µs{ratio(lean_win, many_cpu)}"
        )
    print("(vs raw: latency relative to the gearproto raw loop; vs peer: rate relative to")
    print(" the best of gear and pygearman; cheaper: the lowest peer CPU per job / this one)")


if __name__ == "__main__":
    main()

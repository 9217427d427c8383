"""Protocol-core benchmark: gearproto against the floor of pure-Python framing.

Run with ``python -m benchmarks.core``. Every figure is a ratio against a baseline
measured in the same run, so machine noise cancels out:

* parse: packets/s of :meth:`gearproto.Connection.next_event` over a stream of 64-byte
  SUBMIT_JOB, JOB_ASSIGN and WORK_COMPLETE packets, against a bare
  ``struct.unpack_from``-and-slice loop over the same bytes;
* serialize: packets/s of :meth:`gearproto.Connection.send` against a bare
  ``struct.pack`` loop producing the same bytes;
* the worker parses its JOB_ASSIGNs after sending the GRABs they answer, pipelined;
  one more row shows the whole worker loop, a GRAB and a WORK_FAIL sent per job,
  against a loop that also packs those two headers;
* large: time and peak memory to receive one packet of 64, 128 and 256 MiB fed in
  64 KiB chunks, against the floor of joining the same reads once (time) and against
  the payload size (memory).

With gearproto's C speedups built, the rows are measured with them, then again as pure
Python (``GEARPROTO_NO_EXTENSIONS=1``) in a second process.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import struct
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator

import gearproto as g
from gearproto import _accel
from gearproto._packets import LAYOUT

HEADER = struct.Struct(">4sII")
DATA = bytes(range(64))
CHUNK = 65536


def best_of(runs: int, *fns: Callable[[], int]) -> list[float]:
    """Packets per second of each of ``fns`` (which return their packet counts).

    The functions take turns, ``runs`` rounds, and each keeps its best: a burst of
    other work on the machine then hurts both sides of a ratio alike.
    """
    best = [0.0] * len(fns)
    for _ in range(runs):
        for i, fn in enumerate(fns):
            gc.collect()
            start = time.perf_counter()
            count = fn()
            best[i] = max(best[i], count / (time.perf_counter() - start))
    return best


def chunks(stream: bytes) -> list[bytes]:
    """``stream`` as the 64 KiB reads a socket would hand over."""
    return [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]


def bare_parse(reads: list[bytes], argcs: dict[int, int]) -> int:
    """The floor: unpack each header, slice the payload and split its fields."""
    count = 0
    rest = b""
    unpack = HEADER.unpack_from
    for read in reads:
        buf = rest + read if rest else read
        pos, n = 0, len(buf)
        while n - pos >= 12:
            _magic, ptype, size = unpack(buf, pos)
            end = pos + 12 + size
            if end > n:
                break
            buf[pos + 12 : end].split(b"\0", argcs[ptype])
            pos = end
            count += 1
        rest = buf[pos:]
    return count


def gear_parse(reads: list[bytes], connection: Callable[[], g.Connection]) -> int:
    """gearproto: feed the reads to a ``connection()`` and take every event."""
    conn = connection()
    count = 0
    need = g.NEED_DATA
    for read in reads:
        conn.receive_data(read)
        while conn.next_event() is not need:
            count += 1
    return count


def pipelined_worker(grabs: int) -> g.Connection:
    """A worker that has sent ``grabs`` GRAB_JOB_UNIQs in a row (pipelined)."""
    conn = g.Connection(g.WORKER)
    grab = g.GrabJobUniq()
    for _ in range(grabs):
        conn.send(grab)
    return conn


def gear_worker_loop(reads: list[bytes]) -> int:
    """A worker takes JOB_ASSIGNs, each answering the GRAB_JOB_UNIQ it sent."""
    conn = g.Connection(g.WORKER)
    grab = g.GrabJobUniq()
    count = 0
    need = g.NEED_DATA
    conn.send(grab)
    for read in reads:
        conn.receive_data(read)
        while (event := conn.next_event()) is not need:
            count += 1
            assert isinstance(event, g.JobAssign)
            conn.send(g.WorkFail(handle=event.handle))
            conn.send(grab)
    return count


def bare_worker_loop(reads: list[bytes], argcs: dict[int, int]) -> int:
    """The floor for the worker: also pack the two headers the worker sends."""
    count = 0
    rest = b""
    unpack = HEADER.unpack_from
    pack = HEADER.pack
    for read in reads:
        buf = rest + read if rest else read
        pos, n = 0, len(buf)
        while n - pos >= 12:
            _magic, ptype, size = unpack(buf, pos)
            end = pos + 12 + size
            if end > n:
                break
            handle = buf[pos + 12 : end].split(b"\0", argcs[ptype])[0]
            pack(b"\0REQ", 14, len(handle)) + handle
            pack(b"\0REQ", 30, 0)
            pos = end
            count += 1
        rest = buf[pos:]
    return count


def events(n: int) -> tuple[list[g.Event], list[g.Event], list[g.Event]]:
    """n SUBMIT_JOBs, n WORK_COMPLETEs (both to a server) and n JOB_ASSIGN_UNIQs."""
    submits: list[g.Event] = [
        g.SubmitJob(function=b"reverse", unique=b"%08d" % i, data=DATA) for i in range(n)
    ]
    completes: list[g.Event] = [
        g.WorkComplete(handle=b"H:host:%d" % i, data=DATA) for i in range(n)
    ]
    assigns: list[g.Event] = [
        g.JobAssign(handle=b"H:host:%d" % i, function=b"reverse", unique=b"%08d" % i, data=DATA)
        for i in range(n)
    ]
    return submits, completes, assigns


def bare_serialize(items: list[tuple[bytes, int, list[bytes], bytes]]) -> int:
    """The floor: pack a header and join the fields."""
    pack = HEADER.pack
    for magic, ptype, fields, data in items:
        payload = b"\0".join(fields) + b"\0" + data
        pack(magic, ptype, len(payload)) + payload
    return len(items)


def gear_serialize(conn: g.Connection, evs: list[g.Event]) -> int:
    """gearproto: ``send`` every event."""
    send = conn.send
    for event in evs:
        send(event)
    return len(evs)


def _recv(size: int) -> Iterator[bytes]:
    """``size`` bytes as fresh 64 KiB objects, made as successive ``recv()`` calls make them."""
    template = bytearray(b"x" * CHUNK)
    for i in range(0, size, CHUNK):
        yield bytes(template[: min(CHUNK, size - i)])


def large(size: int) -> tuple[float, float, int]:
    """Receive one SUBMIT_JOB_BG of ``size`` bytes fed in 64 KiB reads.

    Returns gearproto's seconds, the floor's seconds (make the same reads, keep them in a
    list and join them once) and gearproto's peak traced memory in bytes, reads included.
    """
    head = g.Connection(g.CLIENT).send(g.SubmitJob(function=b"f", unique=b"u", background=True))
    head = HEADER.pack(b"\0REQ", 18, len(head) - 12 + size) + head[12:]
    gc.collect()
    start = time.perf_counter()
    floor = b"".join(list(_recv(size)))
    floor_time = time.perf_counter() - start
    del floor
    conn = g.Connection(g.SERVER, max_packet_size=g.MAX_PAYLOAD_SIZE)
    gc.collect()
    tracemalloc.start()
    start = time.perf_counter()
    conn.receive_data(head)
    for piece in _recv(size):
        conn.receive_data(piece)
    event = conn.next_event()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(event, g.SubmitJob) and len(event.data) == size
    return elapsed, floor_time, peak


def main(argv: list[str] | None = None) -> None:
    """Run every measurement and print a table of ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--large-mib", type=int, nargs="*", default=[64, 128, 256])
    parser.add_argument(
        "--compiled-only", action="store_true", help="skip the pure-Python run that follows"
    )
    args = parser.parse_args(argv)
    n, runs = args.packets, args.runs
    submits, completes, assigns = events(n)
    client, server = g.Connection(g.CLIENT), g.Connection(g.SERVER)
    req_stream = b"".join(map(client.send, submits))
    done_stream = b"".join(g.Connection(g.SERVER).send(e) for e in completes)
    assign_stream = b"".join(map(server.send, assigns))
    argcs = {t: (a if d else max(a - 1, 0)) for t, (a, d) in LAYOUT.items()}

    rows: list[tuple[str, float, float]] = []
    for name, stream, role in (
        ("parse SUBMIT_JOB (server)", req_stream, g.SERVER),
        ("parse WORK_COMPLETE (client)", done_stream, g.CLIENT),
    ):
        reads = chunks(stream)
        base, ours = best_of(
            runs,
            functools.partial(bare_parse, reads, argcs),
            functools.partial(gear_parse, reads, functools.partial(g.Connection, role)),
        )
        rows.append((name, ours, base))
    reads = chunks(assign_stream)
    workers = [pipelined_worker(n) for _ in range(runs)]  # the GRABs are sent untimed
    base, ours = best_of(
        runs,
        functools.partial(bare_parse, reads, argcs),
        functools.partial(gear_parse, reads, workers.pop),  # each takes a worker
    )
    rows.append(("parse JOB_ASSIGN_UNIQ (worker, GRABs pipelined)", ours, base))
    base, ours = best_of(
        runs, lambda: bare_worker_loop(reads, argcs), lambda: gear_worker_loop(reads)
    )
    rows.append(("worker loop: JOB_ASSIGN_UNIQ in, GRAB + FAIL out", ours, base))

    def items(evs: list[g.Event], magic: bytes) -> list[tuple[bytes, int, list[bytes], bytes]]:
        out = []
        for e in evs:
            if isinstance(e, g.SubmitJob):
                out.append((magic, 7, [e.function, e.unique], e.data))
            elif isinstance(e, g.WorkComplete):
                out.append((magic, 13, [e.handle], e.data))
            elif isinstance(e, g.JobAssign):
                assert e.unique is not None
                out.append((magic, 31, [e.handle, e.function, e.unique], e.data))
        return out

    for name, evs, conn, magic in (
        ("serialize SUBMIT_JOB (client)", submits, g.Connection(g.SERVER), b"\0REQ"),
        ("serialize WORK_COMPLETE (server)", completes, g.Connection(g.SERVER), b"\0RES"),
        ("serialize JOB_ASSIGN_UNIQ (server)", assigns, g.Connection(g.SERVER), b"\0RES"),
    ):
        sender = g.Connection(g.CLIENT) if isinstance(evs[0], g.SubmitJob) else conn
        prepared = items(evs, magic)
        base, ours = best_of(
            runs,
            functools.partial(bare_serialize, prepared),
            functools.partial(gear_serialize, sender, evs),
        )
        rows.append((name, ours, base))

    mode = "compiled speedups" if _accel.COMPILED else "pure Python"
    print(f"gearproto {g.__version__} ({mode}), Python {sys.version.split()[0]}")
    print(f"{'measurement':52} {'gearproto/s':>12} {'baseline/s':>12} {'ratio':>6}")
    for name, ours, base in rows:
        print(f"{name:52} {ours:12,.0f} {base:12,.0f} {ours / base:6.2f}")
    print()
    head = "large packet, 64 KiB reads"
    print(f"{head:28} {'seconds':>8} {'floor':>8} {'ratio':>6} {'peak/payload':>13}")
    for mib in args.large_mib:
        elapsed, floor, peak = large(mib * 2**20)
        ratio = elapsed / floor
        mem = peak / (mib * 2**20)
        print(f"{mib:4d} MiB{'':19} {elapsed:8.3f} {floor:8.3f} {ratio:6.2f} {mem:13.2f}")
    if _accel.COMPILED and not args.compiled_only:
        # The same rows without the extension, as a machine without a C compiler runs
        # them (the large packet takes the Python path either way).
        print()
        sys.stdout.flush()
        pure = [sys.executable, "-m", "benchmarks.core", "--packets", str(n), "--runs", str(runs)]
        env = {**os.environ, "GEARPROTO_NO_EXTENSIONS": "1"}
        subprocess.run([*pure, "--large-mib"], env=env, check=True)


if __name__ == "__main__":
    main()

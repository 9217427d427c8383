"""Job server benchmark: our server (asyncio+uvloop, trio) against gearmand side by side.

    python -m benchmarks.server [--quick] [--no-perl] [--only NAME ...] [--targets NAME ...]

Besides gearmand ``-t 1`` it measures the Perl Gearman::Server and the Python ``gear``
library's server (``benchmarks/gear_server.py``): as shipped, and with TCP_NODELAY set on
its connections, which ``gear.Server`` does not do (its small answers then wait for the
peer's delayed ACK). ``gear.Server`` ignores GRAB_JOB, so the generator's workers use
GRAB_JOB_UNIQ against it.

Every server is driven by the same load generator, ``benchmarks/loadgen.c``, compiled
with the machine's ``cc`` at run time (a Python generator saturates first on a small
machine). Each line reports the generator's own CPU share (its CPU seconds per wall
second), so one can see it was not the bottleneck.

Scenarios: foreground round trips of 64 bytes (4 clients x 4 workers, 1 and 16 jobs in
flight per client: jobs/s, p50, p99), background submit and drain of 100,000 jobs,
the SQLite submit rate against in-memory, 1 MiB and 100 MiB round trips (200 and 4,
one client, one worker; fewer are dominated by the first trip's page faults), and peak
server memory (VmHWM) with 1,000,000 queued 64-byte background jobs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GEARMAND = "/usr/sbin/gearmand"
PERL_GEARMAND = "/usr/bin/gearmand"


@dataclass
class Target:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    loadgen_flags: list[str] = field(default_factory=list)
    #: scenario -> why this server is not measured on it
    skip: dict[str, str] = field(default_factory=dict)
    note: str = ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def serve(target: Target, *extra: str) -> Iterator[tuple[int, int]]:
    """Start ``target``; yield (port, pid)."""
    port = free_port()
    argv = [a.format(port=port) for a in target.argv] + list(extra)
    env = dict(os.environ, **target.env)
    proc = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_listening(port, proc)
        yield port, proc.pid
    finally:
        proc.kill()
        proc.wait()


def compile_loadgen(tmp: Path) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        sys.exit("benchmarks/server.py needs a C compiler (cc)")
    binary = tmp / "loadgen"
    subprocess.run(
        [cc, "-O2", "-o", str(binary), str(ROOT / "benchmarks" / "loadgen.c")], check=True
    )
    return binary


def run_loadgen(binary: Path, *args: object, timeout: float = 300) -> dict[str, float]:
    out = subprocess.run(
        [str(binary), *map(str, args)], capture_output=True, text=True, timeout=timeout,
        check=True,
    ).stdout  # fmt: skip
    return {k: float(v) for k, v in (item.split("=") for item in out.split())}


def peak_memory_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def targets(with_perl: bool) -> list[Target]:
    ours = [sys.executable, "-m", "server", "--listen=127.0.0.1", "--port={port}"]
    env = {"PYTHONPATH": str(ROOT)}
    found = [
        Target("gearproto asyncio+uvloop", [*ours, "--backend=asyncio"], env),
        Target("gearproto trio", [*ours, "--backend=trio"], env),
    ]
    if os.access(GEARMAND, os.X_OK):
        found.append(
            Target(
                "gearmand -t 1",
                [GEARMAND, "--listen=127.0.0.1", "--port={port}", "-t", "1", "-l", "none"],
            )
        )
    if with_perl and os.access(PERL_GEARMAND, os.X_OK):
        found.append(
            Target("Perl Gearman::Server", [PERL_GEARMAND, "-L", "127.0.0.1", "-p", "{port}"])
        )
    gear = [sys.executable, "-m", "benchmarks.gear_server", "--port={port}"]
    gear_skip = {
        "100MiB": "not run: gear.Server reads 4 KiB at a time and appends each read to a "
        "bytes object, quadratic in the packet size (a 16 MiB round trip took 9.3 s, "
        "100 MiB would take about 6 minutes)",
    }
    found.append(
        Target(
            "gear.Server +TCP_NODELAY", [*gear, "--nodelay"], env, ["-u"], gear_skip,
            "Python gear library's server, TCP_NODELAY added (it sets none itself); "
            "workers use GRAB_JOB_UNIQ (it ignores GRAB_JOB)",
        )
    )  # fmt: skip
    as_shipped = dict.fromkeys(("bg", "1MiB", "memory"), "measured with TCP_NODELAY only")
    found.append(
        Target(
            "gear.Server as shipped", gear, env, ["-u"], {**gear_skip, **as_shipped},
            "no TCP_NODELAY: every small answer waits for the peer's delayed ACK",
        )
    )  # fmt: skip
    return found


def measure(
    target: Target, binary: Path, quick: bool, only: set[str]
) -> dict[str, dict[str, float]]:
    secs = 2 if quick else 5
    n_bg = 20_000 if quick else 100_000
    n_mem = 100_000 if quick else 1_000_000
    results: dict[str, dict[str, float]] = {}

    def want(name: str) -> bool:
        return (not only or name in only) and name not in target.skip

    def run(scenario: str, *args: object) -> dict[str, float]:
        try:
            return run_loadgen(binary, *target.loadgen_flags, *args)
        except subprocess.TimeoutExpired as exc:
            target.skip[scenario] = f"timed out after {exc.timeout:.0f} s"
            return {}

    with serve(target) as (port, _pid):
        if want("rt1"):
            results["rt1"] = run("rt1", "rt", "127.0.0.1", port, 4, 4, 1, secs, 64)
        if want("rt16"):
            results["rt16"] = run("rt16", "rt", "127.0.0.1", port, 4, 4, 16, secs, 64)
        if want("1MiB"):
            results["1MiB"] = run("1MiB", "big", "127.0.0.1", port, 1 << 20, 200)
        if want("100MiB"):
            results["100MiB"] = run("100MiB", "big", "127.0.0.1", port, 100 << 20, 4)
    if want("bg"):
        with serve(target) as (port, _pid):
            results["bg"] = run("bg", "bg", "127.0.0.1", port, n_bg, 64)
            results["drain"] = run("drain", "drain", "127.0.0.1", port, 4)
    if want("sqlite") and target.name.startswith("gearproto"):
        with tempfile.TemporaryDirectory() as tmp:
            db = str(Path(tmp) / "q.sqlite")
            with serve(target, "--queue-type=sqlite", f"--sqlite-db={db}") as (port, _pid):
                results["sqlite"] = run("sqlite", "bg", "127.0.0.1", port, n_bg, 64)
    if want("memory"):
        with serve(target) as (port, pid):
            base = peak_memory_kib(pid)
            run("memory", "bg", "127.0.0.1", port, n_mem, 64)
            peak = peak_memory_kib(pid)
            results["memory"] = {
                "peak_mib": peak / 1024,
                "bytes_per_job": (peak - base) * 1024 / n_mem,
            }
    return results


#: (scenario, label, metric, unit) for each line of the report
ROWS = [
    ("rt1", "round trips, 1 in flight", "rate", "jobs/s"),
    ("rt1", "  p50 latency", "p50_ms", "ms"),
    ("rt1", "  p99 latency", "p99_ms", "ms"),
    ("rt16", "round trips, 16 in flight", "rate", "jobs/s"),
    ("rt16", "  p50 latency", "p50_ms", "ms"),
    ("rt16", "  p99 latency", "p99_ms", "ms"),
    ("bg", "background submit", "rate", "jobs/s"),
    ("drain", "background drain", "rate", "jobs/s"),
    ("sqlite", "SQLite background submit", "rate", "jobs/s"),
    ("1MiB", "1 MiB round trips", "rate", "jobs/s"),
    ("100MiB", "100 MiB round trips", "rate", "jobs/s"),
    ("memory", "peak memory, 1M queued jobs", "peak_mib", "MiB"),
    ("memory", "  per queued job", "bytes_per_job", "bytes"),
]
#: the servers ours is compared with, and their short names
REFERENCES = {
    "gearmand -t 1": "gearmand",
    "Perl Gearman::Server": "Perl",
    "gear.Server +TCP_NODELAY": "gear",
}


def report(
    measured: list[Target], all_results: dict[str, dict[str, dict[str, float]]], only: set[str]
) -> None:
    for target in measured:
        results = all_results[target.name]
        print(f"\n== {target.name}")
        if target.note:
            print(f"  ({target.note})")
        for key, label, metric, unit in ROWS:
            value = results.get(key, {}).get(metric)
            if value is None:
                continue
            ratios = []
            # ours against every reference, the others against gearmand
            refs = REFERENCES if target.name.startswith("gearproto") else ["gearmand -t 1"]
            for ref_name in refs:
                ref = all_results.get(ref_name, {}).get(key, {}).get(metric)
                if ref and ref_name != target.name:
                    ratios.append(f"{value / ref:.2f}x {REFERENCES[ref_name]}")
            if key == "sqlite" and "bg" in results:
                ratios = [f"{value / results['bg']['rate']:.2f}x in-memory"]
            ratio = f"  ({', '.join(ratios)})" if ratios else ""
            cpu = results.get(key, {}).get("cpu")
            load = f"  [generator CPU {cpu:.0%}]" if cpu is not None and metric == "rate" else ""
            print(f"  {label:<32} {value:>12.2f} {unit:<7}{ratio}{load}")
        for key, why in target.skip.items():
            if not only or key.split()[0] in only:
                print(f"  {key}: {why}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer jobs")
    parser.add_argument("--no-perl", action="store_true", help="skip the Perl server")
    parser.add_argument(
        "--only", nargs="*", default=[], help="scenarios: rt1 rt16 bg sqlite 1MiB 100MiB memory"
    )
    parser.add_argument(
        "--targets", nargs="*", default=[], help="substrings of server names to run"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        binary = compile_loadgen(Path(tmp))
        all_results = {}
        measured = []
        for target in targets(not args.no_perl):
            if args.targets and not any(t in target.name for t in args.targets):
                continue
            measured.append(target)
            print(f"measuring {target.name} ...", file=sys.stderr, flush=True)
            all_results[target.name] = measure(target, binary, args.quick, set(args.only))
        report(measured, all_results, set(args.only))


if __name__ == "__main__":
    main()

"""Job server benchmark: our server (asyncio+uvloop, trio) against gearmand side by side.

    python -m benchmarks.server [--quick] [--no-perl] [--only NAME ...]

Every server is driven by the same load generator, ``benchmarks/loadgen.c``, compiled
with the machine's ``cc`` at run time (a Python generator saturates first on a small
machine). Each line reports the generator's own CPU share (its CPU seconds per wall
second), so one can see it was not the bottleneck.

Scenarios: foreground round trips of 64 bytes (4 clients x 4 workers, 1 and 16 jobs in
flight per client: jobs/s, p50, p99), background submit and drain of 100,000 jobs,
the SQLite submit rate against in-memory, 1 MiB and 100 MiB round trips, and peak
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


def run_loadgen(binary: Path, *args: object, timeout: float = 600) -> dict[str, float]:
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
    return found


def measure(
    target: Target, binary: Path, quick: bool, only: set[str]
) -> dict[str, dict[str, float]]:
    secs = 2 if quick else 5
    n_bg = 20_000 if quick else 100_000
    n_mem = 100_000 if quick else 1_000_000
    results: dict[str, dict[str, float]] = {}

    def want(name: str) -> bool:
        return not only or name in only

    with serve(target) as (port, _pid):
        if want("rt1"):
            results["rt1"] = run_loadgen(binary, "rt", "127.0.0.1", port, 4, 4, 1, secs, 64)
        if want("rt16"):
            results["rt16"] = run_loadgen(binary, "rt", "127.0.0.1", port, 4, 4, 16, secs, 64)
        if want("1MiB"):
            results["1MiB"] = run_loadgen(binary, "big", "127.0.0.1", port, 1 << 20, 20)
        if want("100MiB") and "Perl" not in target.name:
            results["100MiB"] = run_loadgen(binary, "big", "127.0.0.1", port, 100 << 20, 2)
    if want("bg"):
        with serve(target) as (port, _pid):
            results["bg"] = run_loadgen(binary, "bg", "127.0.0.1", port, n_bg, 64)
            results["drain"] = run_loadgen(binary, "drain", "127.0.0.1", port, 4)
    if want("sqlite") and target.name.startswith("gearproto"):
        with tempfile.TemporaryDirectory() as tmp:
            db = str(Path(tmp) / "q.sqlite")
            with serve(target, "--queue-type=sqlite", f"--sqlite-db={db}") as (port, _pid):
                results["sqlite"] = run_loadgen(binary, "bg", "127.0.0.1", port, n_bg, 64)
    if want("memory") and "Perl" not in target.name:
        with serve(target) as (port, pid):
            base = peak_memory_kib(pid)
            run_loadgen(binary, "bg", "127.0.0.1", port, n_mem, 64)
            peak = peak_memory_kib(pid)
            results["memory"] = {
                "peak_mib": peak / 1024,
                "bytes_per_job": (peak - base) * 1024 / n_mem,
            }
    return results


def report(all_results: dict[str, dict[str, dict[str, float]]]) -> None:
    base = all_results.get("gearmand -t 1", {})
    rows = [
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
    for name, results in all_results.items():
        print(f"\n== {name}")
        for key, label, metric, unit in rows:
            value = results.get(key, {}).get(metric)
            if value is None:
                continue
            ratio = ""
            ref = base.get(key, {}).get(metric)
            if ref and name != "gearmand -t 1":
                ratio = f"  ({value / ref:.2f}x gearmand)"
            if key == "sqlite" and "bg" in results:
                ratio = f"  ({value / results['bg']['rate']:.2f}x in-memory)"
            cpu = results.get(key, {}).get("cpu")
            load = f"  [generator CPU {cpu:.0%}]" if cpu is not None and metric == "rate" else ""
            print(f"  {label:<32} {value:>12.2f} {unit:<7}{ratio}{load}")


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
        for target in targets(not args.no_perl):
            if args.targets and not any(t in target.name for t in args.targets):
                continue
            print(f"measuring {target.name} ...", file=sys.stderr, flush=True)
            all_results[target.name] = measure(target, binary, args.quick, set(args.only))
        report(all_results)


if __name__ == "__main__":
    main()

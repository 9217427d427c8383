"""Real clients against our server: the gearman/gearadmin CLIs, Perl, and gear."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers import RunningServer, require, require_perl_module

from .proc import run_ours

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def ours() -> Iterator[RunningServer]:
    with run_ours("--job-handle-prefix=H:t") as server:
        yield server


def run(*cmd: str, input: bytes | None = None, timeout: float = 20) -> bytes:
    done = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout, check=False)
    assert done.returncode == 0, (cmd, done.returncode, done.stdout, done.stderr)
    return done.stdout


def gearadmin(server: RunningServer, *args: str) -> bytes:
    return run(require("gearadmin"), "-h", "127.0.0.1", "-p", str(server.port), *args)


def worker(
    server: RunningServer, func: str, count: int, *command: str, wait: bool = True
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            require("gearman"),
            "-h",
            "127.0.0.1",
            "-p",
            str(server.port),
            "-w",
            "-f",
            func,
            "-c",
            str(count),
            "--",
            *command,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if wait:
        wait_for(lambda: _workers(server, func) > 0)
    return proc


def _workers(server: RunningServer, func: str) -> int:
    for line in gearadmin(server, "--status").decode().splitlines():
        parts = line.split("\t")
        if parts[0] == func:
            return int(parts[3])
    return 0


def wait_for(cond: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.02)


def client(server: RunningServer, *args: str, input: bytes = b"") -> bytes:
    return run(require("gearman"), "-h", "127.0.0.1", "-p", str(server.port), *args, input=input)


# ------------------------------------------------------------------- gearman CLI


def test_cli_foreground_echo(ours: RunningServer) -> None:
    w = worker(ours, "cli_cat", 1, "cat")
    assert client(ours, "-f", "cli_cat", "payload") == b"payload"
    assert w.wait(timeout=10) == 0


def test_cli_background_priorities_and_status(ours: RunningServer) -> None:
    for flag, data in (("-L", "low"), ("", "normal"), ("-I", "high")):
        args = ["-b", "-f", "cli_prio"] + ([flag] if flag else []) + [data]
        client(ours, *args)
    assert b"cli_prio\t3\t0\t0\n" in gearadmin(ours, "--status")
    assert b"cli_prio\t1\t1\t1\t0\n" in gearadmin(ours, "--priority-status")
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"cli_prio_{os.getpid()}"
    out.unlink(missing_ok=True)
    w = worker(ours, "cli_prio", 3, "sh", "-c", f"cat >> {out}; echo >> {out}", wait=False)
    assert w.wait(timeout=20) == 0
    assert out.read_text().split() == ["high", "normal", "low"]
    out.unlink()
    assert b"cli_prio\t0\t0\t0\n" in gearadmin(ours, "--status")


def test_cli_data_chunks(ours: RunningServer) -> None:
    proc = subprocess.Popen(
        [
            require("gearman"),
            "-h",
            "127.0.0.1",
            "-p",
            str(ours.port),
            "-w",
            "-n",
            "-f",
            "cli_chunks",
            "-c",
            "1",
            "--",
            "printf",
            "a\\nb\\nc\\n",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: _workers(ours, "cli_chunks") > 0)
    # The CLI prints the result so far at every WORK_DATA (gearmand gives the same).
    assert client(ours, "-f", "cli_chunks", "x") == b"a\na\nb\na\nb\nc\n"
    assert proc.wait(timeout=10) == 0


def test_cli_failure(ours: RunningServer) -> None:
    w = worker(ours, "cli_fail", 1, "false")
    done = subprocess.run(
        [require("gearman"), "-h", "127.0.0.1", "-p", str(ours.port), "-f", "cli_fail", "x"],
        capture_output=True,
        timeout=20,
        check=False,
    )
    assert done.returncode != 0 or b"fail" in (done.stdout + done.stderr).lower()
    w.wait(timeout=10)


# ------------------------------------------------------------------- gearadmin


def test_gearadmin_every_option(ours: RunningServer) -> None:
    assert gearadmin(ours, "--server-version").strip()
    assert gearadmin(ours, "--server-verbose").strip() == b"INFO"
    pid = int(gearadmin(ours, "--getpid").strip())
    assert pid == ours.proc.pid
    assert gearadmin(ours, "--create-function", "ga_func").strip() == b"OK"
    assert b"ga_func\t0\t0\t0\n" in gearadmin(ours, "--status")
    assert gearadmin(ours, "--drop-function", "ga_func").strip() == b"OK"
    assert b"ga_func\t" not in gearadmin(ours, "--status")
    client(ours, "-b", "-f", "ga_jobs", "-u", "ga-unique", "x")
    jobs = gearadmin(ours, "--show-jobs").decode()
    handle = next(line.split("\t")[0] for line in jobs.splitlines() if "\t0\t0\t0" in line)
    assert b"ga-unique" in gearadmin(ours, "--show-unique-jobs")
    assert gearadmin(ours, "--cancel-job", handle).strip() == b"OK"
    assert b"ga-unique" not in gearadmin(ours, "--show-unique-jobs")
    assert b" : " in gearadmin(ours, "--workers") or b":" in gearadmin(ours, "--workers")
    assert b"ga_jobs" in gearadmin(ours, "--priority-status")


# ------------------------------------------------------------------- Perl


PERL_WORKER = """
use strict; use warnings;
use Gearman::Worker;
my $w = Gearman::Worker->new(job_servers => ['127.0.0.1:%(port)d']);
my $n = 0;
$w->register_function(perl_rev => sub { $n++; return scalar reverse $_[0]->arg; });
$w->register_function(perl_fail => sub { $n++; die "nope\\n"; });
$w->work(stop_if => sub { $n >= %(count)d });
"""

PERL_CLIENT = """
use strict; use warnings;
use Gearman::Client;
my $c = Gearman::Client->new(job_servers => ['127.0.0.1:%(port)d']);
my $r = $c->do_task(perl_rev => 'hello');
print "rev=", $$r, "\\n";
my $f = $c->do_task(perl_fail => 'x');
print "fail=", (defined $f ? 'defined' : 'undef'), "\\n";
my $h = $c->dispatch_background(perl_rev => 'bg', {});
print "bg=", ($h ? 'ok' : 'no'), "\\n";
my $ts = $c->new_task_set;
my @got;
for my $i (1..5) {
    $ts->add_task(perl_rev => "x$i", { on_complete => sub { push @got, ${$_[0]} } });
}
$ts->wait;
print "set=", join(',', sort @got), "\\n";
my $st = $c->get_status($h);
print "status=", ($st ? 'obj' : 'none'), "\\n";
"""


def test_perl_client_and_worker(ours: RunningServer, tmp_path: Path) -> None:
    require_perl_module("Gearman::Worker", "libgearman-client-perl")
    (tmp_path / "w.pl").write_text(PERL_WORKER % {"port": ours.port, "count": 8})
    (tmp_path / "c.pl").write_text(PERL_CLIENT % {"port": ours.port})
    w = subprocess.Popen(["perl", str(tmp_path / "w.pl")], stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _workers(ours, "perl_rev") > 0)
        out = run("perl", str(tmp_path / "c.pl"), timeout=30).decode()
        assert "rev=olleh" in out
        assert "fail=undef" in out
        assert "bg=ok" in out
        assert "set=1x,2x,3x,4x,5x" in out
        assert w.wait(timeout=20) == 0
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()


# ------------------------------------------------------------------- gear (Python)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_gear_client_and_worker(ours: RunningServer) -> None:
    gear = pytest.importorskip("gear")
    c = gear.Client("test-client")
    c.addServer("127.0.0.1", ours.port)
    c.waitForServer()
    w = gear.Worker("test-worker")
    w.addServer("127.0.0.1", ours.port)
    w.waitForServer()
    w.registerFunction("gear_rev")
    try:
        job = gear.Job(b"gear_rev", b"hello", unique=b"gear-1")
        c.submitJob(job)
        got = w.getJob()
        assert got.arguments == b"hello"
        assert got.unique == b"gear-1"
        got.sendWorkData(b"partial")
        got.sendWorkComplete(b"olleh")
        wait_for(lambda: job.complete)
        assert job.data == [b"partial", b"olleh"]
        bg = gear.Job(b"gear_rev", b"bg")
        c.submitJob(bg, background=True, precedence=gear.PRECEDENCE_HIGH)
        got = w.getJob()
        assert got.arguments == b"bg"
        got.sendWorkFail()
    finally:
        w.shutdown()
        c.shutdown()

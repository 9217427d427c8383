"""``gearproto``: submit jobs, run a command as a worker, and the admin commands.

It covers what libgearman's ``gearman`` and ``gearadmin`` do::

    gearproto submit reverse "Hello World!"          # prints !dlroW olleH
    echo hi | gearproto submit --background --priority low reverse
    gearproto work reverse -- rev                     # each job's data piped into rev
    gearproto status                                  # also: workers, show-jobs, ...
"""

from __future__ import annotations

import argparse
import logging
import os
import ssl
import subprocess
import sys
from collections.abc import Sequence

from . import sync
from ._core.servers import DEFAULT_PORT
from ._errors import GearmanError

__all__ = ("main",)

ADMIN = (
    "status",
    "prioritystatus",
    "workers",
    "show-jobs",
    "show-unique-jobs",
    "cancel-job",
    "create-function",
    "drop-function",
    "maxqueue",
    "getpid",
    "verbose",
    "version",
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gearproto", description=__doc__.split("\n")[0])
    parser.add_argument(
        "-s",
        "--servers",
        default=os.environ.get("GEARMAN_SERVERS", f"127.0.0.1:{DEFAULT_PORT}"),
        help="job servers, 'h1:p1,h2' (default: $GEARMAN_SERVERS or 127.0.0.1:4730)",
    )
    parser.add_argument("-t", "--timeout", type=float, help="seconds to wait (default: forever)")
    parser.add_argument("-S", "--ssl", action="store_true", help="speak TLS")
    parser.add_argument("--ca", help="CA file to verify servers with (implies --ssl)")
    parser.add_argument("--cert", help="client certificate file (implies --ssl)")
    parser.add_argument("--key", help="client certificate key file")
    parser.add_argument("--insecure", action="store_true", help="do not verify the server")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True)

    submit = sub.add_parser("submit", help="run a job and print its result")
    submit.add_argument("function")
    submit.add_argument("data", nargs="*", help="the workload (default: read stdin)")
    submit.add_argument("-b", "--background", action="store_true", help="print the handle only")
    submit.add_argument("-p", "--priority", choices=("high", "normal", "low"), default="normal")
    submit.add_argument("-u", "--unique", help="unique id (jobs with the same one coalesce)")
    submit.add_argument("-n", "--lines", action="store_true", help="one job per input line")
    submit.add_argument("--epoch", type=float, help="background job not run before this time")

    work = sub.add_parser("work", help="run COMMAND for each job: data on stdin, result on stdout")
    work.add_argument("function", nargs="+", help="function names, then: -- COMMAND [ARG...]")
    work.add_argument("-c", "--concurrency", type=int, default=1)
    work.add_argument("--client-id", help="name shown by 'workers'")

    echo = sub.add_parser("echo", help="ECHO_REQ: check that a server answers")
    echo.add_argument("data", nargs="?", default="ping")
    job_status = sub.add_parser("job-status", help="status of a job by handle")
    job_status.add_argument("handle")
    unique_status = sub.add_parser("unique-status", help="status of a job by unique id")
    unique_status.add_argument("unique")

    for name in ADMIN:
        cmd = sub.add_parser(name, help=f"admin command '{name.replace('-', ' ')}'")
        if name in ("cancel-job", "create-function", "drop-function", "maxqueue"):
            cmd.add_argument("name")
        if name == "maxqueue":
            cmd.add_argument("limits", nargs="*", type=int, help="all, or high normal [low]")
    return parser


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not (args.ssl or args.ca or args.cert):
        return None
    context = ssl.create_default_context(cafile=args.ca)
    if args.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if args.cert:
        context.load_cert_chain(args.cert, args.key)
    return context


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _admin(args: argparse.Namespace, context: ssl.SSLContext | None) -> None:
    server = args.servers.split(",")[0]
    with sync.Admin(server, timeout=args.timeout or 10.0, ssl=context) as admin:
        command = args.command
        rows: list[tuple[object, ...]]
        if command == "status":
            rows = [(_text(f.function), f.total, f.running, f.workers) for f in admin.status()]
            _table(("FUNCTION", "TOTAL", "RUNNING", "WORKERS"), rows)
        elif command == "prioritystatus":
            rows = [
                (_text(f.function), f.high, f.normal, f.low, f.workers)
                for f in admin.priority_status()
            ]
            _table(("FUNCTION", "HIGH", "NORMAL", "LOW", "WORKERS"), rows)
        elif command == "workers":
            rows = [
                (w.fd, _text(w.address), _text(w.client_id), " ".join(map(_text, w.functions)))
                for w in admin.workers()
            ]
            _table(("FD", "ADDRESS", "CLIENT-ID", "FUNCTIONS"), rows)
        elif command == "show-jobs":
            rows = [
                (_text(j.handle), j.retries, int(j.ignored), int(j.persisted))
                for j in admin.show_jobs()
            ]
            _table(("HANDLE", "RETRIES", "IGNORED", "PERSISTED"), rows)
        elif command == "show-unique-jobs":
            for unique in admin.show_unique_jobs():
                print(_text(unique))
        elif command == "cancel-job":
            admin.cancel_job(args.name)
            print("OK")
        elif command == "create-function":
            admin.create_function(args.name)
            print("OK")
        elif command == "drop-function":
            admin.drop_function(args.name)
            print("OK")
        elif command == "maxqueue":
            admin.maxqueue(args.name, *args.limits)
            print("OK")
        elif command == "getpid":
            print(admin.getpid())
        elif command == "verbose":
            print(_text(admin.verbose()))
        else:
            print(_text(admin.version()))


def _submit(args: argparse.Namespace, context: ssl.SSLContext | None) -> int:
    if args.data:
        payloads = [" ".join(args.data).encode()]
    else:
        raw = sys.stdin.buffer.read()
        payloads = raw.splitlines() if args.lines else [raw]
    status = 0
    with sync.Client(args.servers, timeout=args.timeout, ssl=context) as client:
        for payload in payloads:
            if args.background or args.epoch is not None:
                handle = client.submit_background(
                    args.function,
                    payload,
                    unique=args.unique,
                    priority=args.priority,
                    epoch=args.epoch,
                )
                print(f"Task created: {_text(handle)}")
                continue

            def progress(update: sync.Update) -> None:
                if update.kind == "status" and update.denominator:
                    pct = update.numerator * 100 // update.denominator
                    print(f"{pct}% Complete", file=sys.stderr)
                elif update.kind == "warning":
                    print(f"Warning: {_text(update.data)}", file=sys.stderr)
                else:
                    sys.stdout.buffer.write(update.data)

            try:
                result = client.submit(
                    args.function,
                    payload,
                    unique=args.unique,
                    priority=args.priority,
                    on_update=progress,
                )
            except GearmanError as exc:
                print(f"Job failed: {exc}", file=sys.stderr)
                status = 1
                continue
            sys.stdout.buffer.write(result)
            if not result.endswith(b"\n"):
                sys.stdout.buffer.write(b"\n")
            sys.stdout.flush()
    return status


def _work(args: argparse.Namespace, context: ssl.SSLContext | None) -> int:
    cmd: list[str] = args.cmd
    worker = sync.Worker(
        args.servers, concurrency=args.concurrency, client_id=args.client_id, ssl=context
    )

    def run(job: sync.Job) -> bytes:
        if not cmd:
            return job.data
        proc = subprocess.run(cmd, input=job.data, capture_output=True, check=False)
        if proc.stderr:
            job.send_warning(proc.stderr)
        if proc.returncode:
            raise GearmanError(f"{cmd[0]} exited with {proc.returncode}")
        return proc.stdout

    for name in args.function:
        worker.register(name, run)
    worker.work()
    worker.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Args:
        argv: The arguments (default ``sys.argv[1:]``); for ``work``, the command to
            run for each job follows ``--``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, cmd = argv[:at], argv[at + 1 :]
    args = _parser().parse_args(argv)
    args.cmd = cmd
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    context = _ssl_context(args)
    try:
        if args.command == "submit":
            return _submit(args, context)
        if args.command == "work":
            return _work(args, context)
        if args.command in ("echo", "job-status", "unique-status"):
            with sync.Client(args.servers, timeout=args.timeout or 10.0, ssl=context) as client:
                if args.command == "echo":
                    print(_text(client.echo(args.data)))
                    return 0
                status = (
                    client.get_status(args.handle)
                    if args.command == "job-status"
                    else client.get_status_unique(args.unique)
                )
            print(
                f"known={int(status.known)} running={int(status.running)} "
                f"progress={status.numerator}/{status.denominator}"
                + (f" clients={status.client_count}" if args.command == "unique-status" else "")
            )
            return 0
        _admin(args, context)
    except (GearmanError, OSError) as exc:
        print(f"gearproto: {exc}", file=sys.stderr)
        return 1
    return 0

"""``gearproto-server``: the job server's command line, with gearmand's option names."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

import anyio

from ._server import Server, ServerOptions
from ._store import SqliteStore, Store, StoreError
from ._tuning import collect_less_often, keep_freed_memory

__all__ = ("main", "parser")

log = logging.getLogger("server")

#: gearmand's --verbose names and the logging level each maps to.
LEVELS = {
    "FATAL": logging.CRITICAL,
    "ALERT": logging.CRITICAL,
    "CRITICAL": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARNING": logging.WARNING,
    "NOTICE": logging.INFO,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
}


def parser() -> argparse.ArgumentParser:
    """The argument parser (gearmand's option names where they apply)."""
    p = argparse.ArgumentParser(
        prog="gearproto-server",
        description="A Gearman job server compatible with gearmand 2.0, on anyio.",
    )
    a = p.add_argument
    a(
        "-p",
        "--port",
        type=int,
        default=None,
        help="TCP port to listen on (default 4730, or $GEARMAND_PORT; 0 picks a free port)",
    )
    a(
        "-L",
        "--listen",
        action="append",
        metavar="ADDRESS",
        help="address to listen on; repeat for several (default: every interface)",
    )
    a(
        "-b",
        "--backlog",
        type=int,
        default=4096,
        help="listen backlog (default 4096; gearmand uses 32)",
    )
    a(
        "-j",
        "--job-retries",
        type=int,
        default=-1,
        help="times a job may lose its worker before it is dropped with WORK_FAIL "
        "(-1 = unlimited, the default; 0 = drop on the first loss)",
    )
    a(
        "-w",
        "--worker-wakeup",
        type=int,
        default=0,
        help="sleeping workers woken (NOOP) per queued job (default 0 = all)",
    )
    a(
        "--job-handle-prefix",
        default=None,
        help="job handles are PREFIX:<n> (default H:<hostname>)",
    )
    a(
        "--exceptions",
        action="store_true",
        help="turn the 'exceptions' option on for every connection",
    )
    a(
        "--keepalive",
        action="store_true",
        help="also set the TCP keepalive options on the listening sockets",
    )
    a(
        "--keepalive-idle",
        type=int,
        default=-1,
        help="TCP_KEEPIDLE seconds for accepted sockets (-1 = system default)",
    )
    a(
        "--keepalive-interval",
        type=int,
        default=-1,
        help="TCP_KEEPINTVL seconds (-1 = system default)",
    )
    a("--keepalive-count", type=int, default=-1, help="TCP_KEEPCNT probes (-1 = system default)")
    a("--ssl", action="store_true", help="serve TLS on every connection")
    a(
        "--ssl-ca-file",
        default=os.environ.get("GEARMAND_CA_CERTIFICATE"),
        help="CA certificates (PEM) for client certificates ($GEARMAND_CA_CERTIFICATE)",
    )
    a(
        "--ssl-certificate",
        default=os.environ.get("GEARMAND_SERVER_PEM"),
        help="the server certificate (PEM) ($GEARMAND_SERVER_PEM)",
    )
    a(
        "--ssl-key",
        default=os.environ.get("GEARMAND_SERVER_KEY"),
        help="the server private key (PEM) ($GEARMAND_SERVER_KEY)",
    )
    a(
        "--ssl-verify-client",
        action="store_true",
        help="require a client certificate signed by --ssl-ca-file",
    )
    a(
        "--verbose",
        default="ERROR",
        type=str.upper,
        choices=list(LEVELS),
        help="log level: FATAL, ALERT, CRITICAL, ERROR (default), WARNING, NOTICE, INFO, DEBUG",
    )
    a(
        "-l",
        "--log-file",
        default="stderr",
        help="log file; 'stderr' (default) or 'none'. SIGHUP reopens it",
    )
    a("-P", "--pid-file", default=None, help="write the process id to this file")
    a(
        "-q",
        "--queue-type",
        default="builtin",
        type=str.lower,
        choices=["builtin", "sqlite", "libsqlite3"],
        help="persistent queue: builtin (none, the default) or sqlite (alias libsqlite3)",
    )
    a(
        "--sqlite-db",
        "--libsqlite3-db",
        dest="sqlite_db",
        default=None,
        help="the SQLite database file of the sqlite queue",
    )
    a(
        "--sqlite-table",
        "--libsqlite3-table",
        dest="sqlite_table",
        default="gearman_queue",
        help="the table of the sqlite queue (default gearman_queue)",
    )
    a(
        "--store-queue-on-shutdown",
        action="store_true",
        help="sqlite queue: write jobs only at shutdown, not as they come and go",
    )
    a(
        "--backend",
        default="asyncio",
        choices=["asyncio", "trio"],
        help="event loop (asyncio uses uvloop when it is installed)",
    )
    a(
        "--max-packet-size",
        type=int,
        default=256 * 1024 * 1024,
        help="largest packet accepted from a peer, in bytes (default 256 MiB)",
    )
    a(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve Prometheus metrics at http://ADDRESS:PORT/metrics (default: off)",
    )
    a(
        "--metrics-listen",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address the metrics are served on (default 127.0.0.1)",
    )
    a(
        "-R",
        "--round-robin",
        action="store_true",
        help="accepted for gearmand compatibility; round-robin is always on",
    )
    a(
        "-t",
        "--threads",
        type=int,
        default=None,
        help="accepted for gearmand compatibility and ignored",
    )
    a("-V", "--version", action="version", version=_version())
    return p


def _version() -> str:
    from gearproto import __version__, _accel

    core = "compiled speedups" if _accel.COMPILED else "pure Python"
    return f"gearproto-server {__version__} (protocol core: {core})"


def _logging(args: argparse.Namespace) -> None:
    handler: logging.Handler
    if args.log_file == "none":
        handler = logging.NullHandler()
    elif args.log_file == "stderr":
        handler = logging.StreamHandler()
    else:
        handler = logging.FileHandler(args.log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(LEVELS[args.verbose])


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if not args.ssl_certificate or not args.ssl_key:
        raise SystemExit("--ssl needs --ssl-certificate and --ssl-key")
    ctx.load_cert_chain(args.ssl_certificate, args.ssl_key)
    if args.ssl_ca_file:
        ctx.load_verify_locations(args.ssl_ca_file)
    if args.ssl_verify_client:
        if not args.ssl_ca_file:
            raise SystemExit("--ssl-verify-client needs --ssl-ca-file")
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def build(args: argparse.Namespace) -> Server:
    """A :class:`Server` configured from parsed arguments."""
    port = args.port
    if port is None:
        port = int(os.environ.get("GEARMAND_PORT") or 4730)
    store: Store = Store()
    if args.queue_type in ("sqlite", "libsqlite3"):
        if not args.sqlite_db:
            raise SystemExit("--queue-type sqlite needs --sqlite-db FILE")
        store = SqliteStore(
            args.sqlite_db,
            table=args.sqlite_table,
            store_on_shutdown=args.store_queue_on_shutdown,
        )
    level = args.verbose.encode()
    options = ServerOptions(
        hosts=args.listen,
        port=port,
        backlog=args.backlog,
        job_retries=args.job_retries,
        worker_wakeup=args.worker_wakeup,
        handle_prefix=args.job_handle_prefix.encode() if args.job_handle_prefix else None,
        exceptions=args.exceptions,
        keepalive=args.keepalive,
        keepalive_idle=args.keepalive_idle,
        keepalive_interval=args.keepalive_interval,
        keepalive_count=args.keepalive_count,
        ssl_context=_ssl_context(args) if args.ssl else None,
        max_packet_size=args.max_packet_size,
        verbose_name=lambda: level,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_listen,
    )
    return Server(options, store=store)


async def _run(server: Server) -> None:
    signals = [signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP]
    with anyio.open_signal_receiver(*signals) as received:

        async def watch() -> None:
            async for signum in received:
                if signum == signal.SIGHUP:
                    for handler in logging.getLogger().handlers:
                        if isinstance(handler, logging.FileHandler):
                            handler.close()
                    log.info("SIGHUP: log file reopened")
                elif signum == signal.SIGUSR1:
                    log.info("SIGUSR1: graceful shutdown")
                    server.shutdown(graceful=True)
                else:
                    log.info("signal %d: shutting down", signum)
                    server.shutdown()

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            await server.serve()
            tg.cancel_scope.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until a signal stops it; return the exit status."""
    args = parser().parse_args(argv)
    _logging(args)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    keep_freed_memory()
    collect_less_often()
    try:
        server = build(args)
    except (StoreError, OSError, ssl.SSLError, ValueError) as exc:
        print(f"gearproto-server: {exc}", file=sys.stderr)
        return 1
    pid_file = Path(args.pid_file) if args.pid_file else None
    if pid_file is not None:
        pid_file.write_text(f"{os.getpid()}\n")
    backend_options: dict[str, object] = {}
    if args.backend == "asyncio":
        try:
            import uvloop  # noqa: F401

            backend_options["use_uvloop"] = True
        except ImportError:
            pass
    try:
        anyio.run(_run, server, backend=args.backend, backend_options=backend_options)
    except OSError as exc:
        print(f"gearproto-server: {exc}", file=sys.stderr)
        return 1
    except BaseExceptionGroup as group:
        errors = group.subgroup(OSError)
        if errors is None:
            raise
        for error in errors.exceptions:
            print(f"gearproto-server: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)
    return 0

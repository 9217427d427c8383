"""TLS end to end: our clients, workers and admin against our server's own ``--ssl``."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from tests.server.proc import run_ours
from tests.transports.flavours import Flavour
from tests.transports.tlsproxy import Certs, make_certs

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(Path(tmp_path_factory.mktemp("certs")))


def server_args(certs: Certs, *, verify_client: bool) -> list[str]:
    args = ["--ssl", f"--ssl-certificate={certs.server}", f"--ssl-key={certs.server_key}"]
    if verify_client:
        args += [f"--ssl-ca-file={certs.ca}", "--ssl-verify-client"]
    return args


def context(certs: Certs, *, client_cert: bool = False, ca: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca or certs.ca))
    if client_cert:
        ctx.load_cert_chain(certs.client, certs.client_key)
    return ctx


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("mutual", [False, True], ids=["server-cert", "client-cert"])
def test_client_worker_admin_over_tls(
    fl: Flavour, certs: Certs, mutual: bool, backend: str
) -> None:
    args = server_args(certs, verify_client=mutual)
    with run_ours(*args, f"--backend={backend}") as server:
        tls = context(certs, client_cert=mutual)
        worker = fl.make_worker(server.address, ssl=tls)

        @worker.function("reverse")
        def _reverse(job: Any) -> bytes:
            job.send_status(1, 1)
            return bytes(job.data[::-1])

        with fl.working(worker), fl.client(server.address, ssl=tls) as client:
            assert client.submit("reverse", b"secret", timeout=10) == b"terces"
            assert client.echo(b"over tls") == b"over tls"
            with fl.admin(server.address, ssl=tls) as admin:
                assert any(s.function == b"reverse" for s in admin.status())
        if mutual:  # without a client certificate the server hangs up
            with (
                fl.client(server.address, ssl=context(certs)) as client,
                pytest.raises((fl.NoServersAvailable, fl.ConnectionLost)),
            ):
                client.echo(b"x", timeout=10)


def test_server_certificate_is_verified_by_default(fl: Flavour, certs: Certs) -> None:
    with run_ours(*server_args(certs, verify_client=False)) as server:
        untrusting = context(certs, ca=certs.other_ca)
        with (
            fl.client(server.address, ssl=untrusting) as client,
            pytest.raises(fl.NoServersAvailable),
        ):
            client.submit("reverse", b"x", timeout=10)
        # ssl=True: the system's CAs, which do not know the test CA.
        with fl.client(server.address, ssl=True) as client, pytest.raises(fl.NoServersAvailable):
            client.submit("reverse", b"x", timeout=10)

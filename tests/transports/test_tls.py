"""TLS for clients, workers and admin, through a TLS proxy in front of gearmand."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from tests.peers import RunningServer

from .flavours import Flavour
from .tlsproxy import Certs, make_certs, tls_proxy

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(Path(tmp_path_factory.mktemp("certs")))


def context(certs: Certs, *, client_cert: bool = False, ca: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca or certs.ca))
    if client_cert:
        ctx.load_cert_chain(certs.client, certs.client_key)
    return ctx


@pytest.mark.parametrize("mutual", [False, True], ids=["server-cert", "client-cert"])
def test_client_worker_admin_over_tls(
    fl: Flavour, gearmand: RunningServer, certs: Certs, mutual: bool
) -> None:
    with tls_proxy(certs, gearmand.port, require_client_cert=mutual) as address:
        tls = context(certs, client_cert=mutual)
        worker = fl.make_worker(address, ssl=tls)

        @worker.function("reverse")
        def _reverse(job: Any) -> bytes:
            job.send_status(1, 1)
            return bytes(job.data[::-1])

        with fl.working(worker), fl.client(address, ssl=tls) as client:
            assert client.submit("reverse", b"secret", timeout=10) == b"terces"
            assert client.echo(b"over tls") == b"over tls"
            with fl.admin(address, ssl=tls) as admin:
                assert any(s.function == b"reverse" for s in admin.status())


def test_server_certificate_is_verified_by_default(
    fl: Flavour, gearmand: RunningServer, certs: Certs
) -> None:
    with tls_proxy(certs, gearmand.port, require_client_cert=False) as address:
        untrusting = context(certs, ca=certs.other_ca)
        with fl.client(address, ssl=untrusting) as client, pytest.raises(fl.NoServersAvailable):
            client.submit("reverse", b"x", timeout=10)
        # ssl=True: the system's CAs, which do not know the test CA.
        with fl.client(address, ssl=True) as client, pytest.raises(fl.NoServersAvailable):
            client.submit("reverse", b"x", timeout=10)

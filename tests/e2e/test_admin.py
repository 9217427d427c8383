"""Every admin command through our Admin, once per flavour, against our server."""

from __future__ import annotations

import os

import pytest

import gearproto
from tests.peers import RunningServer
from tests.transports.flavours import Flavour

from .helpers import wait_handles

pytestmark = pytest.mark.timeout(30)


def test_every_admin_command(fl: Flavour, ours: RunningServer) -> None:
    with fl.client(ours.address) as client, fl.admin(ours.address) as admin:
        handle = client.submit_background("queued", b"x", unique="u1", priority="high")
        client.submit_background("queued", b"y", priority="low")

        (status,) = [s for s in admin.status() if s.function == b"queued"]
        assert status == gearproto.FunctionStatus(
            function=b"queued", total=2, running=0, workers=0
        )
        (prio,) = [p for p in admin.priority_status() if p.function == b"queued"]
        assert (prio.high, prio.normal, prio.low) == (1, 0, 1)
        jobs = {j.handle: j for j in admin.show_jobs()}
        assert handle in jobs and jobs[handle].retries == 0
        assert set(admin.show_unique_jobs()) >= {b"u1"}
        assert any(w.address == b"127.0.0.1" for w in admin.workers())

        admin.cancel_job(handle)
        assert handle not in {j.handle for j in admin.show_jobs()}
        waiting = client.add_task("queued", b"fg")
        wait_handles([waiting])
        admin.cancel_job(waiting.handle)  # its caller is told: WORK_FAIL
        with pytest.raises(fl.JobFailed):
            waiting.result(10)
        with pytest.raises(fl.AdminCommandError) as info:
            admin.cancel_job("H:nope:1")
        assert info.value.code == b"UNKNOWN_JOB"

        admin.maxqueue("queued", 1)
        with pytest.raises(fl.ServerError) as full:
            client.submit_background("queued", b"z")
        assert full.value.code == b"QUEUE_ERROR"
        admin.maxqueue("queued", 1, 2, 3)
        admin.maxqueue("queued")
        client.submit_background("queued", b"z")

        admin.create_function("made")
        assert any(s.function == b"made" for s in admin.status())
        admin.drop_function("made")
        assert not any(s.function == b"made" for s in admin.status())
        with pytest.raises(fl.AdminCommandError):
            admin.drop_function("never-existed")

        assert admin.getpid() == ours.proc.pid != os.getpid()
        assert admin.verbose() == b"INFO"
        assert admin.version() == gearproto.__version__.encode()
        assert admin.echo(b"ping") == b"ping"
        for word in ("bogus", "shutdown"):  # shutdown is unknown, as in gearmand
            reply = admin.command(word)
            assert isinstance(reply, gearproto.AdminError)
            assert reply.code == b"UNKNOWN_COMMAND"
        assert ours.proc.poll() is None

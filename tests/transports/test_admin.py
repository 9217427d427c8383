"""Every admin command of gearmand, with typed results, once per flavour."""

from __future__ import annotations

import os

import pytest

import gearproto
from tests.peers import RunningServer

from .flavours import Flavour

pytestmark = pytest.mark.timeout(30)


def test_every_admin_command(fl: Flavour, gearmand: RunningServer) -> None:
    with fl.client(gearmand.address) as client, fl.admin(gearmand.address) as admin:
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
        with pytest.raises(fl.AdminCommandError) as info:
            admin.cancel_job("H:nope:1")
        assert info.value.code == b"UNKNOWN_JOB"

        admin.maxqueue("queued", 5)
        admin.maxqueue("queued", 1, 2, 3)
        admin.maxqueue("queued")
        # gearmand 1.1 drops the last character of "create function" lines ending in LF.
        admin.create_function("made")
        assert any(s.function == b"made" for s in admin.status())
        admin.drop_function("made")
        with pytest.raises(fl.AdminCommandError):
            admin.drop_function("never-existed")

        assert admin.getpid() == gearmand.proc.pid != os.getpid()
        assert admin.verbose() == b"INFO"
        assert admin.version().startswith(b"1.")
        assert admin.echo(b"ping") == b"ping"
        reply = admin.command("bogus")
        assert isinstance(reply, gearproto.AdminError)
        assert reply.code == b"UNKNOWN_COMMAND"

"""Every admin command of gearmand, with typed results, once per flavour and server."""

from __future__ import annotations

import os

import pytest

import gearproto
from tests.peers import RunningServer, wait_handles

from .flavours import Flavour

pytestmark = pytest.mark.timeout(30)


def test_every_admin_command(fl: Flavour, server: RunningServer) -> None:
    with fl.client(server.address) as client, fl.admin(server.address) as admin:
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
        if server.ours:  # gearmand 1.1 still lists the job, and does not tell its caller
            assert handle not in {j.handle for j in admin.show_jobs()}
            waiting = client.add_task("queued", b"fg")
            wait_handles([waiting])
            admin.cancel_job(waiting.handle)
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

        # gearmand 1.1 drops the last character of "create function" lines ending in LF.
        admin.create_function("made")
        assert any(s.function == b"made" for s in admin.status())
        admin.drop_function("made")
        assert not any(s.function == b"made" for s in admin.status())
        with pytest.raises(fl.AdminCommandError):
            admin.drop_function("never-existed")

        assert admin.getpid() == server.proc.pid != os.getpid()
        assert admin.verbose() == b"INFO"
        version = admin.version()
        assert version == gearproto.__version__.encode() if server.ours else version[:2] == b"1."
        assert admin.echo(b"ping") == b"ping"
        # gearmand answers shutdown by stopping; ours answers it as unknown, as 2.0 does
        for word in ("bogus", "shutdown") if server.ours else ("bogus",):
            reply = admin.command(word)
            assert isinstance(reply, gearproto.AdminError)
            assert reply.code == b"UNKNOWN_COMMAND"
        assert server.proc.poll() is None

"""Random event sequences keep the scheduler's books consistent (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import gearproto as gp
from server import Scheduler
from server._model import FUTURE, QUEUED, RUNNING

FUNCS = [b"a", b"b", b"c"]
UNIQUES = [b"", b"-", b"u1", b"u2"]


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def events(s: Scheduler) -> st.SearchStrategy[tuple[int, gp.Event | str]]:
    handles = st.sampled_from([b"H:t:%d" % i for i in range(1, 12)])
    f = st.sampled_from(FUNCS)
    ev = st.one_of(
        st.builds(
            gp.SubmitJob,
            function=f,
            unique=st.sampled_from(UNIQUES),
            data=st.sampled_from([b"", b"x", b"y"]),
            priority=st.sampled_from(list(gp.Priority)),
            background=st.booleans(),
        ),
        st.builds(
            gp.SubmitJobEpoch,
            function=f,
            unique=st.sampled_from(UNIQUES),
            epoch=st.sampled_from([0, 1005, 2000]),
        ),
        st.builds(gp.CanDo, function=f),
        st.builds(gp.CanDoTimeout, function=f, timeout=st.sampled_from([0, 1000])),
        st.builds(gp.CantDo, function=f),
        st.just(gp.ResetAbilities()),
        st.just(gp.PreSleep()),
        st.sampled_from([gp.GrabJob(), gp.GrabJobUniq(), gp.GrabJobAll()]),
        st.builds(gp.WorkComplete, handle=handles, data=st.just(b"r")),
        st.builds(gp.WorkFail, handle=handles),
        st.builds(gp.WorkException, handle=handles),
        st.builds(gp.WorkStatus, handle=handles, numerator=st.just(1), denominator=st.just(2)),
        st.builds(gp.GetStatus, handle=handles),
        st.just("disconnect"),
        st.just("tick"),
        st.builds(
            gp.AdminCommand, command=st.just(b"cancel"), args=st.tuples(st.just(b"job"), handles)
        ),
    )
    return st.tuples(st.integers(1, 4), ev)


def check(s: Scheduler) -> None:
    for f in s.functions.values():
        mine = [j for j in s.jobs.values() if j.function is f]
        assert f.total == len(mine)
        assert f.running == sum(j.state == RUNNING for j in mine)
        for p in range(3):
            queued = [j for j in mine if j.state == QUEUED and j.priority == p]
            assert f.live[p] == len(queued)
            assert (f in s._ready[p]) == bool(queued)
            assert f.future[p] == sum(j.state == FUTURE and j.priority == p for j in mine)
        assert f.worker_count == sum(f.workers.values())
    for peer in s.peers.values():
        for handle, job in peer.jobs.items():
            assert job.worker is peer and job.handle == handle and job.state == RUNNING


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_books_stay_consistent(data: st.DataObject) -> None:
    from server import AdminHandler

    clock = Clock()
    s = Scheduler(clock=clock, handle_prefix=b"H:t", job_retries=2)
    s.admin = AdminHandler()
    for cid in range(1, 5):
        s.connect(cid)
    for _ in range(data.draw(st.integers(1, 60))):
        cid, event = data.draw(events(s))
        if event == "disconnect":
            s.disconnect(cid)
            s.connect(cid)
        elif event == "tick":
            clock.now += 600
            s.tick()
        else:
            assert isinstance(event, gp.Event)
            try:
                s.handle(cid, event)
            except Exception as exc:  # pragma: no cover - a failure shows the sequence
                raise AssertionError(f"{event!r} from {cid}") from exc
        check(s)
    for cid in range(1, 5):
        s.disconnect(cid)
    check(s)

"""Events build through a fast ``__new__`` and still behave as frozen dataclasses."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle

import pytest

import gearproto as g

pytestmark = pytest.mark.timeout(30)

SAMPLES: list[g.Event] = [
    g.SubmitJob(function=b"f", unique=b"u", data=b"d", priority=g.Priority.HIGH),
    g.JobCreated(handle=b"H:1", request=g.SubmitJob(function=b"f")),
    g.WorkComplete(handle=b"H:1", data=b"\0x"),
    g.JobAssign(handle=b"H:1", function=b"f", data=b"d", unique=b"u"),
    g.Noop(),
    g.Error(code=b"X", text=b"y"),
    g.StatusReply(functions=(g.FunctionStatus(function=b"f", total=1, running=0, workers=2),)),
    g.AdminCommand(command=b"status"),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_copies_and_pickles_equal_the_original(event: g.Event) -> None:
    for clone in (
        copy.copy(event),
        copy.deepcopy(event),
        pickle.loads(pickle.dumps(event)),
        dataclasses.replace(event),  # type: ignore[type-var]
    ):
        assert type(clone) is type(event)
        assert clone == event
        assert repr(clone) == repr(event)


def test_defaults_fields_and_signature_match_the_dataclass() -> None:
    job = g.SubmitJob(function=b"f")
    assert (job.unique, job.data, job.priority, job.background) == (
        b"",
        b"",
        g.Priority.NORMAL,
        False,
    )
    assert list(inspect.signature(g.SubmitJob).parameters) == [
        "function",
        "unique",
        "data",
        "priority",
        "background",
    ]
    assert dataclasses.replace(job, data=b"x").data == b"x"


def test_events_stay_frozen() -> None:
    job = g.SubmitJob(function=b"f")
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.function = b"g"  # type: ignore[misc]


@pytest.mark.parametrize(
    "call",
    [
        lambda: g.SubmitJob(),  # type: ignore[call-arg]
        lambda: g.SubmitJob(b"f"),  # type: ignore[call-arg]
        lambda: g.SubmitJob(function=b"f", nonsense=1),  # type: ignore[call-arg]
    ],
    ids=["missing field", "positional", "unknown field"],
)
def test_bad_arguments_raise_type_error(call: object) -> None:
    with pytest.raises(TypeError):
        call()  # type: ignore[operator]


def test_subclasses_build_through_the_dataclass_machinery() -> None:
    class Plain(g.SubmitJob):
        pass

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Extra(g.WorkComplete):
        note: str = "n"

    plain = Plain(function=b"f", data=b"d")
    assert type(plain) is Plain and plain.function == b"f" and plain.data == b"d"
    extra = Extra(handle=b"H", data=b"d", note="x")
    assert (type(extra), extra.handle, extra.data, extra.note) == (Extra, b"H", b"d", "x")
    assert pickle.loads(pickle.dumps(g.SubmitJob(function=b"f"))) == g.SubmitJob(function=b"f")

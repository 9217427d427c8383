"""Edge cases of the receive and send fast paths."""

from __future__ import annotations

import dataclasses

import pytest

import gearproto
from gearproto import CLIENT, SERVER, Connection, LocalProtocolError, RemoteProtocolError
from gearproto import _events as E


def submit_bg(data: bytes) -> bytes:
    return Connection(CLIENT).send(
        E.SubmitJob(function=b"f", unique=b"u", data=data, background=True)
    )


def test_large_packet_fed_without_next_event_in_between() -> None:
    wire = submit_bg(b"x" * 300_000) + submit_bg(b"tail")
    conn = Connection(SERVER)
    for i in range(0, len(wire), 1000):
        conn.receive_data(wire[i : i + 1000])
    first, second = conn.next_event(), conn.next_event()
    assert isinstance(first, E.SubmitJob) and first.data == b"x" * 300_000
    assert isinstance(second, E.SubmitJob) and second.data == b"tail"


def test_text_line_then_big_reads_is_left_to_next_event() -> None:
    conn = Connection(SERVER)
    conn.receive_data(b"stat")
    conn.receive_data(b"us\n" + submit_bg(b"y" * 100_000)[:50_000])
    assert conn.next_event() == gearproto.AdminCommand(command=b"status")
    assert conn.next_event() is gearproto.NEED_DATA


@pytest.mark.parametrize(
    "head",
    [
        b"\0RES" + (18).to_bytes(4, "big") + (100_000).to_bytes(4, "big"),  # wrong magic
        b"\0REQ" + (99).to_bytes(4, "big") + (100_000).to_bytes(4, "big"),  # unknown type
        b"\0REQ" + (1).to_bytes(4, "big") + (100_000).to_bytes(4, "big"),  # CAN_DO too big
        b"\0REQ" + (18).to_bytes(4, "big") + (100_000).to_bytes(4, "big") + b"f" * 9000,
    ],
    ids=["magic", "type", "size", "missing NUL"],
)
def test_bad_large_header_is_reported_by_next_event(head: bytes) -> None:
    conn = Connection(SERVER)
    conn.receive_data(head[:10])
    conn.receive_data(head[10:] + b"z" * 40_000)
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def test_bad_input_after_poisoning_stays_an_error() -> None:
    conn = Connection(SERVER)
    conn.receive_data(b"\0XYZ" + bytes(8))
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    conn.receive_data(b"\0REQ" + bytes(4) + bytes(4) + b"z" * 40_000)
    with pytest.raises(RemoteProtocolError, match="ERROR state"):
        conn.next_event()


def test_send_vectored_refuses_over_4_gib() -> None:
    class Huge(bytes):
        def __len__(self) -> int:
            return gearproto.MAX_PAYLOAD_SIZE + 1

    with pytest.raises(LocalProtocolError, match="4 GiB"):
        Connection(CLIENT).send_vectored(E.EchoReq(data=Huge(b"x")))


@pytest.mark.parametrize(
    "event",
    [
        # str where bytes are due, as an untyped caller might pass: refused, not sent.
        E.JobAssign(handle="H:1", function=b"f"),  # type: ignore[arg-type]
        E.JobAssign(handle=b"H:1", function=b"f", unique="u"),  # type: ignore[arg-type]
        E.JobAssign(handle=b"H:1", function=b"f\0"),
        E.JobAssign(handle=b"H" * 64, function=b"f"),
    ],
)
def test_bad_job_assign_is_refused(event: E.JobAssign) -> None:
    with pytest.raises(LocalProtocolError):
        Connection(SERVER).send(event)


def test_work_fail_converted_by_gearmand_loses_its_trailing_nul() -> None:
    # gearmand turns WORK_EXCEPTION into WORK_FAIL with the handle's NUL still on it.
    conn = Connection(CLIENT)
    conn.receive_data(b"\0RES\0\0\0\x0e\0\0\0\x06H:x:1\0")
    assert conn.next_event() == E.WorkFail(handle=b"H:x:1")


class Name(bytes):
    """A bytes subclass: valid everywhere, but off every encoder's fast path."""


@pytest.mark.parametrize(
    "event",
    [
        E.JobAssign(handle=b"H", function=b"f", data=b"d"),
        E.JobAssign(handle=b"H", function=b"f", unique=b"u", data=b"d"),
        E.JobAssign(handle=b"H", function=b"f", unique=b"u", reducer=b"r", data=b"d"),
        E.WorkComplete(handle=b"H", data=b"d"),
        E.JobCreated(handle=b"H"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_bytes_subclasses_encode_like_bytes(event: E.Event) -> None:
    values = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}  # type: ignore[arg-type]
    renamed = {k: Name(v) if type(v) is bytes else v for k, v in values.items()}
    assert Connection(SERVER).send(type(event)(**renamed)) == Connection(SERVER).send(event)

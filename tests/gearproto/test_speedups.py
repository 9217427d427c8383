"""The compiled fast paths agree with the Python code, which is the reference.

The whole gearproto suite runs with and without the extension (``make coverage``);
these tests compare the two directly on random input.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gearproto
from gearproto import CLIENT, SERVER, WORKER, Connection, LocalProtocolError, Priority, _accel
from gearproto import RemoteProtocolError as Remote
from gearproto._decode import SPEC, TABLE
from gearproto._packets import ENCODE, REQ, RES

ROOT = Path(__file__).resolve().parents[2]

if not _accel.COMPILED:
    pytest.skip(
        "gearproto._speedups is not built (needs a C compiler and Python headers: Debian "
        "packages gcc and python3-dev) or GEARPROTO_NO_EXTENSIONS is set",
        allow_module_level=True,
    )

BYTES = st.one_of(
    st.binary(max_size=12),
    st.lists(st.sampled_from([b"a", b"\0", b"xyz"]), max_size=5).map(b"".join),
    st.integers(0, 600).map(lambda n: b"f" * n),
    st.sampled_from([b"d" * 32 * 1024, b"d" * (32 * 1024 + 1)]),
    st.binary(max_size=4).map(bytearray),
)


def events_of(cls: type[gearproto.Event]) -> st.SearchStrategy[gearproto.Event]:
    """Events of ``cls`` with valid and invalid field values alike."""
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name == "request":
            continue
        if f.name == "priority":
            kwargs[f.name] = st.sampled_from([*Priority, None])
        elif f.name == "background":
            kwargs[f.name] = st.sampled_from([True, False, 1, None])
        elif "None" in str(f.type):
            kwargs[f.name] = st.one_of(st.none(), BYTES)
        else:
            kwargs[f.name] = BYTES
    return st.builds(cls, **kwargs)


def python_encoding(event: gearproto.Event, magic: bytes) -> bytes:
    ptype, fields = ENCODE[type(event)](event)
    payload = b"\0".join(fields)
    return struct.pack(">4sII", magic, ptype, len(payload)) + payload


def plain(event: gearproto.Event) -> bool:
    """Every bytes field is exactly ``bytes`` (or None) and at most 32 KiB."""
    values = [getattr(event, f.name) for f in dataclasses.fields(event)]  # type: ignore[arg-type]
    return all(
        v is None or (type(v) is bytes and len(v) <= 32 * 1024)
        for v in values
        if not isinstance(v, (Priority, bool, int, gearproto.Event))
    )


ENCODED = sorted(_accel._ENCODER_SPECS, key=lambda c: c.__name__)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(ENCODED).flatmap(events_of))
def test_the_encoder_agrees_with_python(event: gearproto.Event) -> None:
    for role in (CLIENT, WORKER, SERVER):
        conn = Connection(role)
        if type(event) not in conn._sendable:
            continue
        fast = conn._encode(event)
        try:
            slow = python_encoding(event, REQ if role is not SERVER else RES)
        except LocalProtocolError:
            assert fast is None
            continue
        if fast is None:
            assert not plain(event), "the fast path missed a plain event"
        else:
            assert fast == slow


def test_every_bytes_only_event_is_encoded_in_c() -> None:
    expected = {cls for cls, wire, _ in SPEC.values() if all(":" not in s for s in wire)}
    expected |= {gearproto.WorkFail}  # its handle converter only applies when receiving
    expected -= {gearproto.SubmitReduceJob}  # background alone picks its type: Python
    assert set(ENCODED) == expected


PARTS = st.one_of(
    st.binary(max_size=10),
    st.sampled_from([b"", b"1", b"0", b"-7", b" 12", b"12ab", b"9" * 25, b"x\0y"]),
)


@settings(max_examples=1500, deadline=None)
@given(
    ptype=st.integers(0, 45),
    magic=st.sampled_from([REQ, RES, b"\0REX"]),
    payload=st.lists(PARTS, max_size=9).map(b"\0".join),
    lead=st.binary(max_size=3),
    cut=st.integers(0, 3),
    tail=st.binary(max_size=13),
    limit=st.sampled_from([8192, 5]),
)
def test_the_decoder_agrees_with_python(
    ptype: int, magic: bytes, payload: bytes, lead: bytes, cut: int, tail: bytes, limit: int
) -> None:
    packet = struct.pack(">4sII", magic, ptype, len(payload)) + payload
    if cut:
        packet = packet[:-cut]
    buf = lead + packet + tail
    for role in (CLIENT, WORKER, SERVER):
        conn = Connection(role, max_field_size=limit)
        decode = conn._decode
        try:
            slow = python_decoding(conn, buf, len(lead))
        except Remote:
            with pytest.raises(Remote):
                decode(buf, len(lead), conn._fast_limit)
            continue
        fast = decode(buf, len(lead), conn._fast_limit)
        if slow is None:
            assert fast is None
        else:
            assert fast is not None
            event, end, pair = fast
            assert (event, type(event), end) == (slow[0], type(slow[0]), slow[1])
            kind = type(event)
            assert pair is (role is not SERVER and kind not in _WORK_EVENTS)


_WORK_EVENTS = {
    gearproto.WorkComplete,
    gearproto.WorkData,
    gearproto.WorkWarning,
    gearproto.WorkStatus,
    gearproto.WorkFail,
    gearproto.WorkException,
}


def python_decoding(
    conn: Connection, buf: bytes, pos: int
) -> tuple[gearproto.Event | None, int] | None:
    """What the Python fast path decodes at ``pos`` and where the packet ends, or None
    where it goes the slow way."""
    if len(buf) - pos < 12:
        return None
    magic, ptype, size = struct.unpack_from(">4sII", buf, pos)
    their = REQ if conn.role is SERVER else RES
    accepted = (int.from_bytes(their, "big") << 32 | ptype) in conn._accept
    if magic != their or not accepted or size > conn._fast_limit:
        return None
    if pos + 12 + size > len(buf):
        return None
    entry = TABLE[ptype]
    assert entry is not None
    event = entry.small(buf[pos + 12 : pos + 12 + size])
    return None if event is None else (event, pos + 12 + size)


def test_decode_and_encode_check_their_arguments() -> None:
    conn = Connection(SERVER)
    decode, encode = conn._decode, conn._encode
    with pytest.raises(TypeError):
        decode(bytearray(b"x" * 20), 0, 10)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        decode(b"x", 0)  # type: ignore[call-arg]
    with pytest.raises(OverflowError):
        decode(b"x", 2**70, 10)
    assert decode(b"\0REQ" + bytes(8), -1, 10) is None
    assert encode(gearproto.GrabJob()) is None  # a server does not send it
    speedups: Any = _accel._speedups
    with pytest.raises(ValueError):
        speedups.Decoder(b"\0RE", (None,) * 43)
    with pytest.raises(ValueError):
        speedups.Decoder(REQ, (None,) * 42)
    with pytest.raises(TypeError):
        speedups.Decoder(REQ, (None,) * 43, x=1)
    with pytest.raises(TypeError):
        speedups.Decoder(REQ, ((1, 2),) + (None,) * 42)
    with pytest.raises(ValueError):
        speedups.Encoder(REQ, {gearproto.Noop: ((), (99,), (), ())})
    with pytest.raises(TypeError):
        speedups.Encoder(REQ, {gearproto.Noop: (((1, 2, False),), (6,), (), ())})


def test_a_raising_converter_leaves_no_half_built_event() -> None:
    conn = Connection(SERVER)
    payload = b"f\0" + b"9" * 30  # CAN_DO_TIMEOUT's timeout is out of range
    conn.receive_data(struct.pack(">4sII", REQ, 23, len(payload)) + payload)
    with pytest.raises(Remote, match="timeout"):
        conn.next_event()
    assert conn.state is gearproto.ConnectionState.ERROR


def test_the_environment_variable_turns_the_extension_off() -> None:
    code = "import gearproto._accel as a; print(a.COMPILED, a.encoder(b'', ()).__name__)"
    env = {**os.environ, "GEARPROTO_NO_EXTENSIONS": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "nothing"]

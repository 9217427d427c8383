import gearproto


def test_client_submit_golden_bytes() -> None:
    conn = gearproto.Connection(gearproto.CLIENT)
    wire = conn.send(gearproto.SubmitJob(function=b"reverse", data=b"test"))
    assert wire == b"\0REQ\0\0\0\x07\0\0\0\x0dreverse\0\0test"

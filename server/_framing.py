"""A guard in front of :meth:`gearproto.Connection.receive_data`.

gearproto refuses a stream whose buffered bytes end 5 to 11 bytes into a packet
header: it compares the partial header (longer than the 4-byte magic) with the magic
and reports "bad magic". A read boundary can fall anywhere, so the server holds back a
partial header until the rest of it arrives. This walks packet boundaries only (one
header read per packet, bodies skipped without scanning).
"""

from __future__ import annotations

__all__ = ("HeaderGuard",)


class HeaderGuard:
    """Splits reads so that gearproto never sees a partial packet header."""

    __slots__ = ("held", "in_text", "skip")

    def __init__(self) -> None:
        self.held = b""
        #: Bytes of the current packet body still to come.
        self.skip = 0
        #: Inside an admin text line that has not ended yet.
        self.in_text = False

    def feed(self, data: bytes) -> bytes:
        """The part of ``data`` (after what was held) that is safe to pass on now."""
        if self.held:
            data = self.held + data
            self.held = b""
        n = len(data)
        pos = self.skip
        if pos >= n:
            self.skip = pos - n
            return data
        if self.in_text:
            nl = data.find(b"\n", pos)
            if nl < 0:
                self.skip = 0
                return data
            self.in_text = False
            pos = nl + 1
        while pos < n:
            if data[pos] == 0:
                if n - pos < 12:
                    self.held = data[pos:]
                    self.skip = 0
                    return data[:pos]
                pos += 12 + int.from_bytes(data[pos + 8 : pos + 12], "big")
            else:
                nl = data.find(b"\n", pos)
                if nl < 0:
                    self.in_text = True
                    self.skip = 0
                    return data
                pos = nl + 1
        self.skip = pos - n
        return data

    def flush(self) -> bytes:
        """At end of stream: whatever was held back."""
        held, self.held = self.held, b""
        return held

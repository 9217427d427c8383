"""The five-minute tour, step 3: call ``reverse``, in the foreground and the background."""

from __future__ import annotations

import sys

from transports.sync import Client

with Client(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:4730") as client:
    result = client.submit("reverse", b"Hello World!")  # waits for the worker
    print(result.decode())  # !dlroW olleH
    handle = client.submit_background("reverse", b"later", priority="low")
    print("queued in the background as", handle.decode())

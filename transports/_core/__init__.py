"""The I/O-free logic shared by the sync, asyncio and trio flavours.

Nothing here reads a socket, sleeps or starts a thread: each flavour moves the bytes
these classes produce and consume, and waits.
"""

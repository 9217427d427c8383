"""glibc malloc tuning for the command: large payloads reuse freed memory.

A payload of a megabyte or more is held in a few large ``bytes`` objects on its way
through the server (the reads, the joined payload, the packet written out). glibc
serves such blocks with ``mmap`` or trims them off the top of the heap once they are
freed, so every large payload pays for fresh pages again: one page fault per 4 KiB,
about 40% of the server's CPU time on 1 MiB round trips. :func:`keep_freed_memory`
makes glibc take large blocks from the heap and keep up to ``trim_threshold`` bytes of
freed memory for the next payload. The process-wide setting is for the command only; an
application that embeds the server keeps its own allocator settings.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

__all__ = ("keep_freed_memory",)

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

#: glibc's own variables: when one is set, its user has chosen and we change nothing.
_GLIBC_VARIABLES = (
    "GLIBC_TUNABLES",
    "MALLOC_MMAP_MAX_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
)


def keep_freed_memory(trim_threshold: int = 512 * 1024 * 1024) -> bool:
    """Serve large blocks from the heap and keep up to ``trim_threshold`` bytes freed.

    Returns:
        Whether the setting was applied (glibc on Linux, no ``MALLOC_*`` or
        ``GLIBC_TUNABLES`` variable set).
    """
    if not sys.platform.startswith("linux") or any(v in os.environ for v in _GLIBC_VARIABLES):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))
    log.debug("malloc: large blocks from the heap, %d bytes kept: %s", trim_threshold, applied)
    return applied

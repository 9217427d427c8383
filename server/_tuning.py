"""Process-wide tuning that the command applies and an embedding application does not.

Two settings, each skipped when its user has already chosen:

* **glibc malloc** (:func:`keep_freed_memory`). A payload of a megabyte or more is held
  in a few large ``bytes`` objects on its way through the server (the reads, the
  joined payload, the packet written out). glibc serves such blocks with ``mmap`` or
  trims them off the top of the heap once they are freed, so every large payload pays
  for fresh pages again: one page fault per 4 KiB, about 40% of the server's CPU time on
  1 MiB round trips. This makes glibc take large blocks from the heap and keep up to
  ``trim_threshold`` bytes of freed memory for the next payload.
* **The cyclic garbage collector** (:func:`collect_less_often`). A server holds many
  long-lived objects (every queued job) and makes several short-lived ones per packet,
  so with CPython's default of a collection every 700 allocations the collector took
  about a fifth of the time of a background submit. Reference counting frees almost
  everything the server makes; the collector only finds cycles, so running it every
  50,000 allocations loses nothing but a little latency in freeing them.

An application that embeds :class:`server.Server` keeps its own settings.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys

__all__ = ("collect_less_often", "keep_freed_memory")

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


#: CPython's default first threshold; any other value means someone already chose.
_GC_DEFAULT = 700


def collect_less_often(threshold: int = 50_000) -> bool:
    """Run the cyclic garbage collector every ``threshold`` allocations, not 700.

    Returns:
        Whether the setting was applied: the collector is enabled and its first
        threshold is still CPython's default (a choice made before is kept).
    """
    if not gc.isenabled() or gc.get_threshold()[0] != _GC_DEFAULT:
        return False
    gc.set_threshold(threshold, *gc.get_threshold()[1:])
    log.debug("gc: first generation collected every %d allocations", threshold)
    return True

"""Run every benchmark, one after the other: ``python -m benchmarks`` (``make bench``).

Each one also runs alone: ``python -m benchmarks.core`` (the protocol core against a
bare struct loop), ``python -m benchmarks.transports`` (our clients against gear and
pygearman, on one gearmand) and ``python -m benchmarks.server`` (our server against
gearmand and the Perl server, driven by one load generator). Every figure is a ratio
against a baseline measured in the same run.
"""

from __future__ import annotations

import subprocess
import sys


def main() -> int:
    """Run the three benchmarks in turn; the exit status is the first failure's."""
    status = 0
    for name in ("core", "transports", "server"):
        print(f"\n=== benchmarks.{name}\n", flush=True)
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}", *sys.argv[1:]])
        status = status or code
    return status


if __name__ == "__main__":
    sys.exit(main())

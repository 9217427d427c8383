"""``python -m transports``: the ``gearproto`` command line."""

import sys

from .cli import main

sys.exit(main())

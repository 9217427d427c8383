"""``python -m server``: run the job server (see ``--help``)."""

import sys

from .cli import main

sys.exit(main())

"""The gearproto job server, on anyio: gearmand 2.0's semantics, SQLite persistence.

:class:`Scheduler` is the pure, synchronous core (no I/O, no clock of its own);
:class:`Server` runs it on asyncio or trio; :class:`SqliteStore` keeps background jobs
across restarts in gearmand's table layout. ``gearproto-server`` (or
``python -m server``) is the command line.
"""

from ._admin import AdminHandler as AdminHandler
from ._scheduler import CloseConnection as CloseConnection
from ._scheduler import Output as Output
from ._scheduler import Scheduler as Scheduler
from ._server import Server as Server
from ._server import ServerOptions as ServerOptions
from ._store import SqliteStore as SqliteStore
from ._store import Store as Store
from ._store import StoredJob as StoredJob
from ._store import StoreError as StoreError

__all__ = (
    "AdminHandler",
    "CloseConnection",
    "Output",
    "Scheduler",
    "Server",
    "ServerOptions",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoredJob",
)

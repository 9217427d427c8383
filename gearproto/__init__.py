"""gearproto: the Gearman protocol as a sans-I/O state machine.

Bytes in, events out, bytes out. No sockets, threads, clocks or dependencies::

    import gearproto

    conn = gearproto.Connection(gearproto.CLIENT)
    sock.sendall(conn.send(gearproto.SubmitJob(function=b"reverse", data=b"hello")))
    while True:
        event = conn.next_event()
        if event is gearproto.NEED_DATA:
            conn.receive_data(sock.recv(65536))
        elif isinstance(event, gearproto.WorkComplete):
            break
"""

from ._admin import (
    AdminCommand as AdminCommand,
)
from ._admin import (
    AdminError as AdminError,
)
from ._admin import (
    AdminLines as AdminLines,
)
from ._admin import (
    AdminOk as AdminOk,
)
from ._admin import (
    FunctionPriorityStatus as FunctionPriorityStatus,
)
from ._admin import (
    FunctionStatus as FunctionStatus,
)
from ._admin import (
    JobInfo as JobInfo,
)
from ._admin import (
    PidReply as PidReply,
)
from ._admin import (
    PriorityStatusReply as PriorityStatusReply,
)
from ._admin import (
    ShowJobsReply as ShowJobsReply,
)
from ._admin import (
    ShowUniqueJobsReply as ShowUniqueJobsReply,
)
from ._admin import (
    StatusReply as StatusReply,
)
from ._admin import (
    VerboseReply as VerboseReply,
)
from ._admin import (
    VersionReply as VersionReply,
)
from ._admin import (
    WorkerInfo as WorkerInfo,
)
from ._admin import (
    WorkersReply as WorkersReply,
)
from ._connection import (
    CLIENT as CLIENT,
)
from ._connection import (
    DEFAULT_MAX_FIELD_SIZE as DEFAULT_MAX_FIELD_SIZE,
)
from ._connection import (
    DEFAULT_MAX_LINE_SIZE as DEFAULT_MAX_LINE_SIZE,
)
from ._connection import (
    DEFAULT_MAX_PACKET_SIZE as DEFAULT_MAX_PACKET_SIZE,
)
from ._connection import (
    NEED_DATA as NEED_DATA,
)
from ._connection import (
    SERVER as SERVER,
)
from ._connection import (
    WORKER as WORKER,
)
from ._connection import (
    Connection as Connection,
)
from ._connection import (
    ConnectionState as ConnectionState,
)
from ._connection import (
    Role as Role,
)
from ._connection import (
    WorkerState as WorkerState,
)
from ._errors import (
    LocalProtocolError as LocalProtocolError,
)
from ._errors import (
    ProtocolError as ProtocolError,
)
from ._errors import (
    RemoteProtocolError as RemoteProtocolError,
)
from ._events import (
    AllYours as AllYours,
)
from ._events import (
    CanDo as CanDo,
)
from ._events import (
    CanDoTimeout as CanDoTimeout,
)
from ._events import (
    CantDo as CantDo,
)
from ._events import (
    ConnectionClosed as ConnectionClosed,
)
from ._events import (
    EchoReq as EchoReq,
)
from ._events import (
    EchoRes as EchoRes,
)
from ._events import (
    Error as Error,
)
from ._events import (
    Event as Event,
)
from ._events import (
    GetStatus as GetStatus,
)
from ._events import (
    GetStatusUnique as GetStatusUnique,
)
from ._events import (
    GrabJob as GrabJob,
)
from ._events import (
    GrabJobAll as GrabJobAll,
)
from ._events import (
    GrabJobUniq as GrabJobUniq,
)
from ._events import (
    JobAssign as JobAssign,
)
from ._events import (
    JobCreated as JobCreated,
)
from ._events import (
    NoJob as NoJob,
)
from ._events import (
    Noop as Noop,
)
from ._events import (
    OptionReq as OptionReq,
)
from ._events import (
    OptionRes as OptionRes,
)
from ._events import (
    PreSleep as PreSleep,
)
from ._events import (
    Priority as Priority,
)
from ._events import (
    ResetAbilities as ResetAbilities,
)
from ._events import (
    SetClientId as SetClientId,
)
from ._events import (
    StatusRes as StatusRes,
)
from ._events import (
    StatusResUnique as StatusResUnique,
)
from ._events import (
    SubmitJob as SubmitJob,
)
from ._events import (
    SubmitJobEpoch as SubmitJobEpoch,
)
from ._events import (
    SubmitJobSched as SubmitJobSched,
)
from ._events import (
    SubmitReduceJob as SubmitReduceJob,
)
from ._events import (
    Unused as Unused,
)
from ._events import (
    WorkComplete as WorkComplete,
)
from ._events import (
    WorkData as WorkData,
)
from ._events import (
    WorkException as WorkException,
)
from ._events import (
    WorkFail as WorkFail,
)
from ._events import (
    WorkStatus as WorkStatus,
)
from ._events import (
    WorkWarning as WorkWarning,
)
from ._packets import MAX_PAYLOAD_SIZE as MAX_PAYLOAD_SIZE
from ._packets import PacketType as PacketType
from ._version import __version__ as __version__

__all__ = (
    "CLIENT",
    "DEFAULT_MAX_FIELD_SIZE",
    "DEFAULT_MAX_LINE_SIZE",
    "DEFAULT_MAX_PACKET_SIZE",
    "MAX_PAYLOAD_SIZE",
    "NEED_DATA",
    "SERVER",
    "WORKER",
    "AdminCommand",
    "AdminError",
    "AdminLines",
    "AdminOk",
    "AllYours",
    "CanDo",
    "CanDoTimeout",
    "CantDo",
    "Connection",
    "ConnectionClosed",
    "ConnectionState",
    "EchoReq",
    "EchoRes",
    "Error",
    "Event",
    "FunctionPriorityStatus",
    "FunctionStatus",
    "GetStatus",
    "GetStatusUnique",
    "GrabJob",
    "GrabJobAll",
    "GrabJobUniq",
    "JobAssign",
    "JobCreated",
    "JobInfo",
    "LocalProtocolError",
    "NoJob",
    "Noop",
    "OptionReq",
    "OptionRes",
    "PacketType",
    "PidReply",
    "PreSleep",
    "Priority",
    "PriorityStatusReply",
    "ProtocolError",
    "RemoteProtocolError",
    "ResetAbilities",
    "Role",
    "SetClientId",
    "ShowJobsReply",
    "ShowUniqueJobsReply",
    "StatusReply",
    "StatusRes",
    "StatusResUnique",
    "SubmitJob",
    "SubmitJobEpoch",
    "SubmitJobSched",
    "SubmitReduceJob",
    "Unused",
    "VerboseReply",
    "VersionReply",
    "WorkComplete",
    "WorkData",
    "WorkException",
    "WorkFail",
    "WorkStatus",
    "WorkWarning",
    "WorkerInfo",
    "WorkerState",
    "WorkersReply",
    "__version__",
)

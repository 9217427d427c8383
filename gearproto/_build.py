"""Fast construction of events, which are frozen, slotted dataclasses.

A frozen dataclass sets each field in ``__init__`` through ``object.__setattr__``,
which costs several times a plain attribute store; building events is a large part of
every send and receive. Each event class gets a mutable "twin" with the same slot
layout: an event is made by filling a bare twin with plain (specialised, C-speed)
stores and then switching its ``__class__`` to the frozen class. The decoders do this
inline, and :func:`speed_up` gives the classes a ``__new__`` that does it for
``SubmitJob(function=..., ...)``, with the dataclass's own signature and defaults.
The result is an ordinary instance of the frozen class.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

E = TypeVar("E")

_TWINS: dict[type, type] = {}


def twin(cls: type) -> type:
    """A mutable class with ``cls``'s slot layout and base."""
    if cls not in _TWINS:
        namespace = {"__slots__": cls.__dict__["__slots__"]}
        _TWINS[cls] = type(f"_{cls.__name__}Twin", cls.__bases__, namespace)
    return _TWINS[cls]


def speed_up(cls: type[E]) -> type[E]:
    """Give the frozen dataclass ``cls`` a ``__new__`` that builds through its twin.

    Its ``__init__`` becomes ``object.__init__``, which ignores the arguments
    ``__new__`` already used. A subclass gets the dataclass ``__init__`` run on a plain
    instance instead (and one that adds fields goes back to the dataclass machinery
    altogether, see ``Event.__init_subclass__``).
    """
    env: dict[str, Any] = {"new": object.__new__, "twin": twin(cls), "C": cls}
    env["init"] = cls.__init__
    params, body, names = [], [], []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.default is not dataclasses.MISSING:
            env[f"d_{f.name}"] = f.default
            params.append(f"{f.name}=d_{f.name}")
        else:
            assert f.default_factory is dataclasses.MISSING, "no factories in events"
            params.append(f.name)
        body.append(f"    o.{f.name} = {f.name}")
        names.append(f"{f.name}={f.name}")
    star = ", *, " if params else ""
    source = [
        f"def __new__(cls{star}{', '.join(params)}):",
        "    if cls is not C:",
        "        o = new(cls)",
        f"        init(o, {', '.join(names)})",
        "        return o",
        "    o = new(twin)",
        *body,
        "    o.__class__ = cls",
        "    return o",
    ]
    exec("\n".join(source), env)  # the code is built from the dataclass fields above
    new = env["__new__"]
    new.__qualname__ = f"{cls.__qualname__}.__new__"
    cls.__new__ = new  # type: ignore[method-assign]
    cls.__init__ = object.__init__  # type: ignore[method-assign]
    return cls


def speed_up_all(namespace: dict[str, Any], base: type) -> None:
    """:func:`speed_up` every subclass of ``base`` defined in a module's ``namespace``."""
    for value in tuple(namespace.values()):
        if isinstance(value, type) and issubclass(value, base) and value is not base:
            speed_up(value)


def plain_new(cls: type[E], *args: object, **kwargs: object) -> E:
    """``__new__`` for a subclass that adds fields: its dataclass ``__init__`` does all."""
    return object.__new__(cls)


def rebuild(cls: type[E], values: dict[str, Any]) -> E:
    """Make an event again from its fields (for pickle and :mod:`copy`)."""
    return cls(**values)

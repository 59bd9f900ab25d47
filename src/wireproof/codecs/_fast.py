"""Fast construction of frozen messages, for hand-written decoders and the capture replay.

Part of the codec core (re-exported by :mod:`wireproof.codecs._core`); a
module of its own so that the compiled wheel can compile it with mypyc (see
``setup.py``) without compiling the core's framer base classes, which
interpreted protocol packages subclass, and so that the fast paths that use
it do not import Construct with the core.

The ``__init__`` that ``dataclass(frozen=True)`` generates stores each field
through ``object.__setattr__`` (the frozen ``__setattr__`` refuses a plain
store), several times the cost of a plain assignment; the decoders and the
replay build millions of messages and events. :func:`fast_constructor`
stores through the slots' member descriptors instead, which the frozen
``__setattr__`` does not intercept.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["fast_constructor"]

T = TypeVar("T")


def fast_constructor(cls: type[T]) -> Callable[..., T]:
    """A positional constructor for a frozen slotted dataclass: ``make(f1, f2, ...)``, every field in order.

    The instance is the same as one built by ``cls(...)`` (class, equality,
    hash, repr, pickling, immutability), about twice as fast to make. For
    trusted callers only: every field (inherited ones first, as
    :func:`dataclasses.fields` orders them) is passed positionally (keywords
    are not part of the contract), with no defaults and no validation; a wrong
    number of arguments is a ``TypeError``, compiled or not. A class that is
    not a slotted dataclass, or that has a ``__post_init__`` (which this would
    skip), is refused with ``TypeError``.
    """
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]  # TypeError if not one
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__, which fast_constructor would skip")
    setters = [_slot(cls, name).__set__ for name in names]
    new = object.__new__
    # One closure per arity in use, unrolled: in the compiled wheel each is native
    # code, and a loop over *args costs about a third more per call.
    n = len(setters)
    if n == 1:
        (s0,) = setters

        def make1(a: Any) -> Any:
            obj: Any = new(cls)
            s0(obj, a)
            return obj
        return make1
    if n == 2:
        s0, s1 = setters

        def make2(a: Any, b: Any) -> Any:
            obj: Any = new(cls)
            s0(obj, a)
            s1(obj, b)
            return obj
        return make2
    if n == 4:
        s0, s1, s2, s3 = setters

        def make4(a: Any, b: Any, c: Any, d: Any) -> Any:
            obj: Any = new(cls)
            s0(obj, a)
            s1(obj, b)
            s2(obj, c)
            s3(obj, d)
            return obj
        return make4
    if n == 5:
        s0, s1, s2, s3, s4 = setters

        def make5(a: Any, b: Any, c: Any, d: Any, e: Any) -> Any:
            obj: Any = new(cls)
            s0(obj, a)
            s1(obj, b)
            s2(obj, c)
            s3(obj, d)
            s4(obj, e)
            return obj
        return make5
    if n == 7:
        s0, s1, s2, s3, s4, s5, s6 = setters

        def make7(a: Any, b: Any, c: Any, d: Any, e: Any, f: Any, g: Any) -> Any:
            obj: Any = new(cls)
            s0(obj, a)
            s1(obj, b)
            s2(obj, c)
            s3(obj, d)
            s4(obj, e)
            s5(obj, f)
            s6(obj, g)
            return obj
        return make7

    def make(*args: Any) -> Any:
        if len(args) != n:
            raise TypeError(f"{cls.__name__}: {n} positional arguments expected, {len(args)} given")
        obj: Any = new(cls)
        for setter, arg in zip(setters, args, strict=True):
            setter(obj, arg)
        return obj
    return make


def _slot(cls: type, name: str) -> types.MemberDescriptorType:
    """The member descriptor of slot ``name`` (a base class's, for an inherited field)."""
    for klass in cls.__mro__:
        found = vars(klass).get(name)
        if found is not None:
            if isinstance(found, types.MemberDescriptorType):
                return found
            break
    raise TypeError(f"{cls.__name__}.{name} is not a slot: fast_constructor needs @dataclass(slots=True)")

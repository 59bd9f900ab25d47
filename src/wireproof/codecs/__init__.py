"""Codecs: bytes <-> typed messages, one package per protocol (pure).

Codecs are found by name through the protocol descriptors
(:mod:`wireproof.protocol`: each protocol package lists its codecs, each a
``"module:factory"`` imported on first use), so ``wireproof.codecs.get("modbus-tcp")``
imports only what it needs::

    >>> from wireproof import codecs
    >>> tcp = codecs.get("modbus-tcp")
    >>> msg = tcp.decode(bytes.fromhex("000100000006010300000001"))

:func:`register` adds a codec at run time (tests, embedding) without a
descriptor; it wins over a descriptor's codec of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from wireproof import _lazy
from wireproof.protocol import REGISTRY, resolve

if TYPE_CHECKING:
    from wireproof.codecs._core import NEED_DATA, Codec, Framer, NeedData, message_fields
else:
    # The contracts (and Construct, which _core needs) load on first use: descriptors stay cheap.
    __getattr__ = _lazy.exports(__name__, ("_core",))

__all__ = ["NEED_DATA", "Codec", "Framer", "NeedData", "directions", "get", "message_fields", "names",
           "register"]

_FACTORIES: dict[str, tuple[Callable[[], Codec], tuple[str, ...]]] = {}
_CACHE: dict[str, Codec] = {}


def register(name: str, factory: Callable[[], Codec], *, directions: tuple[str, ...] = ()) -> None:
    """Register a codec factory under ``name`` (replacing any earlier one).

    ``directions``: the values its ``decode(data, direction=...)`` takes (none by default).
    """
    _FACTORIES[name] = (factory, tuple(directions))
    _CACHE.pop(name, None)


def names() -> list[str]:
    """Every codec name: the descriptors' and those registered at run time, sorted."""
    return sorted({entry.name for entry in REGISTRY.codecs()} | set(_FACTORIES))


def directions(name: str) -> tuple[str, ...]:
    """The ``direction`` values codec ``name`` takes in ``decode`` (empty: none); ``KeyError`` if unknown."""
    if name in _FACTORIES:
        return _FACTORIES[name][1]
    try:
        return REGISTRY.codec(name).directions
    except KeyError:
        raise KeyError(f"no codec named {name!r}; known: {', '.join(names())}") from None


def get(name: str) -> Codec:
    """The codec registered under ``name``; ``KeyError`` naming the known ones if none."""
    if name in _CACHE:
        return _CACHE[name]
    if name in _FACTORIES:
        factory = _FACTORIES[name][0]
    else:
        try:
            entry = REGISTRY.codec(name)
        except KeyError:
            raise KeyError(f"no codec named {name!r}; known: {', '.join(names())}") from None
        factory = resolve(entry.factory)
    codec: Codec = factory()
    _CACHE[name] = codec
    return codec

"""Codecs: bytes <-> typed messages, one package per protocol (pure).

The registry maps a codec name (the names the CLI uses) to a factory, so
``wireproof.codecs.get("modbus-tcp")`` imports only what it needs::

    >>> from wireproof import codecs
    >>> tcp = codecs.get("modbus-tcp")
    >>> msg = tcp.decode(bytes.fromhex("000100000006010300000001"))

Protocol packages register themselves in ``_BUILTIN`` below (module path and
attribute of a zero-argument factory); third-party codecs can be added at run
time with :func:`register`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from wireproof.codecs._core import NEED_DATA, Codec, Framer, NeedData, message_fields

__all__ = ["NEED_DATA", "Codec", "Framer", "NeedData", "get", "message_fields", "names", "register"]

# name -> "module:factory"; the factory returns an object satisfying Codec.
_BUILTIN: dict[str, str] = {
    "modbus-tcp": "wireproof.codecs.modbus:tcp_codec",
    "modbus-rtu": "wireproof.codecs.modbus:rtu_codec",
    "modbus-ascii": "wireproof.codecs.modbus:ascii_codec",
}
_FACTORIES: dict[str, Callable[[], Codec]] = {}
_CACHE: dict[str, Codec] = {}


def register(name: str, factory: Callable[[], Codec]) -> None:
    """Register a codec factory under ``name`` (replacing any earlier one)."""
    _FACTORIES[name] = factory
    _CACHE.pop(name, None)


def names() -> list[str]:
    """Every registered codec name, sorted."""
    return sorted(set(_BUILTIN) | set(_FACTORIES))


def get(name: str) -> Codec:
    """The codec registered under ``name``; ``KeyError`` naming the known ones if none."""
    if name in _CACHE:
        return _CACHE[name]
    if name in _FACTORIES:
        factory = _FACTORIES[name]
    elif name in _BUILTIN:
        module, _, attr = _BUILTIN[name].partition(":")
        factory = getattr(importlib.import_module(module), attr)
    else:
        raise KeyError(f"no codec named {name!r}; known: {', '.join(names())}")
    codec = factory()
    _CACHE[name] = codec
    return codec

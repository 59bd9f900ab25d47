"""Consensus messages on the wire: MessagePack values in length-prefixed frames.

Normative references: the MessagePack specification (msgpack/msgpack, spec.md:
formats, "Extension types"); frames are ``uint32 big-endian length || payload``.

Theory of operation
-------------------
The algorithms' messages are frozen dataclasses (DESIGN.md, "Contracts"); the
wire keeps them typed with three MessagePack extension types:

=====  ==========  ==========================================================
code   name        payload (itself MessagePack)
=====  ==========  ==========================================================
1      dataclass   ``[wire name, {field name: value, ...}]``
2      enum        ``[wire name, member value]``
3      frozenset   ``[element, ...]``
4      bigint      the decimal text of an integer outside the 64-bit range
=====  ==========  ==========================================================

A class's wire name is its module's last component and its qualified name
(``"multipaxos.Prepare"``, ``"paxos.Prepare"``, ``"api.Envelope"``): short,
and unambiguous although both algorithms have a ``Prepare``.

Arrays decode as ``tuple`` (messages are immutable, so a ``list`` comes back
as a ``tuple``: the one documented difference), maps as ``dict``. Types are
checked exactly, so an ``IntEnum`` member stays an enum and never turns into
a plain integer. Wire
names resolve through a :class:`Registry` (never through an import); a name it does not hold, a field
set that does not match the class, bad MessagePack, trailing bytes or a frame
longer than ``max_frame`` raise :class:`~wireproof.errors.DecodeError`
(protocol ``"consensus-wire"``) and nothing else.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import struct
from collections.abc import Iterable
from types import ModuleType
from typing import Any, Final

import msgpack

from wireproof.codecs._core import NEED_DATA, BufferedFramer, NeedData
from wireproof.errors import DecodeError, EncodeError

__all__ = [
    "DEFAULT_MODULES",
    "MAX_FRAME",
    "PROTOCOL",
    "FrameDecoder",
    "Registry",
    "WireCodec",
    "default_codec",
    "frame",
    "wire_name",
]

PROTOCOL: Final = "consensus-wire"
MAX_FRAME: Final = 1 << 20
_HEADER = struct.Struct(">I")
_EXT_DATACLASS, _EXT_ENUM, _EXT_FROZENSET, _EXT_BIGINT = 1, 2, 3, 4
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 64) - 1

#: Modules whose dataclasses and enums every default registry knows (missing ones are skipped);
#: the algorithms' own modules come from the algorithm registry (:mod:`.registry`).
DEFAULT_MODULES: Final = (
    "wireproof.consensus.api",
    "wireproof.consensus.sim.clients",
    "wireproof.harness.consensus.cluster",
)


def wire_name(cls: type) -> str:
    """``"multipaxos.Prepare"``: the last component of the module and the qualified name."""
    return f"{cls.__module__.rpartition('.')[2]}.{cls.__qualname__}"


class Registry:
    """Wire name -> class, for the dataclasses and enums that may cross the wire."""

    def __init__(self, classes: Iterable[type] = ()) -> None:
        self._classes: dict[str, type] = {}
        for cls in classes:
            self.register(cls)

    def register(self, cls: type) -> type:
        """Add ``cls`` (a dataclass or Enum); usable as a class decorator."""
        if not (dataclasses.is_dataclass(cls) or issubclass(cls, enum.Enum)):
            raise TypeError(f"{cls.__name__} is neither a dataclass nor an Enum")
        name = wire_name(cls)
        known = self._classes.get(name)
        if known is not None and known is not cls:
            raise ValueError(f"two classes named {name}: {known.__module__} and {cls.__module__}")
        self._classes[name] = cls
        return cls

    def register_module(self, module: ModuleType) -> None:
        """Add every dataclass and Enum defined in ``module`` (not the ones it imports)."""
        for value in vars(module).values():
            if (isinstance(value, type) and value.__module__ == module.__name__
                    and (dataclasses.is_dataclass(value) or issubclass(value, enum.Enum))):
                self.register(value)

    def get(self, name: str) -> type | None:
        return self._classes.get(name)

    def __contains__(self, cls: object) -> bool:
        return isinstance(cls, type) and self._classes.get(wire_name(cls)) is cls

    def __len__(self) -> int:
        return len(self._classes)


class WireCodec:
    """Typed values <-> MessagePack bytes, with ``registry`` naming the classes."""

    name = PROTOCOL

    def __init__(self, registry: Registry, *, max_frame: int = MAX_FRAME) -> None:
        self.registry = registry
        self.max_frame = max_frame

    # -- encoding ---------------------------------------------------------
    def encode(self, value: Any) -> bytes:
        """MessagePack bytes for ``value``; ``EncodeError`` for what the wire cannot carry."""
        try:
            data: bytes = msgpack.packb(value, default=self._default, use_bin_type=True, strict_types=True)
        except EncodeError:
            raise
        except (TypeError, ValueError, OverflowError) as err:
            raise EncodeError(PROTOCOL, (), str(err)) from None
        if len(data) > self.max_frame:
            raise EncodeError(PROTOCOL, (), f"{len(data)} bytes is over the {self.max_frame}-byte limit")
        return data

    def _pack(self, value: Any) -> bytes:
        data: bytes = msgpack.packb(value, default=self._default, use_bin_type=True, strict_types=True)
        return data

    def _default(self, obj: Any) -> Any:
        cls = type(obj)
        if isinstance(obj, enum.Enum):
            self._known(cls)
            return msgpack.ExtType(_EXT_ENUM, self._pack([wire_name(cls), obj.value]))
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            self._known(cls)
            fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
            return msgpack.ExtType(_EXT_DATACLASS, self._pack([wire_name(cls), fields]))
        if isinstance(obj, bool):  # strict_types: a bool subclass is not msgpack's bool
            return bool(obj)
        if isinstance(obj, int):
            if _INT_MIN <= obj <= _INT_MAX:
                return int(obj)
            return msgpack.ExtType(_EXT_BIGINT, str(int(obj)).encode("ascii"))
        if isinstance(obj, tuple | list):  # strict_types hands every tuple here; arrays on the wire
            return list(obj)
        if isinstance(obj, frozenset | set):
            return msgpack.ExtType(_EXT_FROZENSET, self._pack(list(obj)))
        # subclasses (StrEnum is handled above) travel as their base type
        if isinstance(obj, str):
            return str(obj)
        if isinstance(obj, bytes):
            return bytes(obj)
        if isinstance(obj, float):
            return float(obj)
        if isinstance(obj, dict):
            return dict(obj)
        raise EncodeError(PROTOCOL, (), f"cannot put a {cls.__name__} on the wire")

    def _known(self, cls: type) -> None:
        if cls not in self.registry:
            raise EncodeError(PROTOCOL, (cls.__name__,), f"{wire_name(cls)} is not in the wire registry")

    # -- decoding ---------------------------------------------------------
    def decode(self, data: bytes) -> Any:
        """The value in ``data`` (exactly one MessagePack object); ``DecodeError`` otherwise."""
        if len(data) > self.max_frame:
            raise DecodeError(PROTOCOL, ("frame",), 0,
                              f"{len(data)} bytes is over the {self.max_frame} limit")
        try:
            return self._unpack(bytes(data))
        except DecodeError:
            raise
        except msgpack.ExtraData as err:
            raise DecodeError(PROTOCOL, (), len(data) - len(err.extra),
                              f"{len(err.extra)} bytes after the value") from None
        except Exception as err:  # msgpack raises ValueError/TypeError/its own errors on bad input
            raise DecodeError(PROTOCOL, (), 0, f"bad MessagePack: {type(err).__name__}: {err}") from None

    def _unpack(self, data: bytes) -> Any:
        return msgpack.unpackb(data, ext_hook=self._ext_hook, use_list=False, raw=False,
                               strict_map_key=False)

    def _ext_hook(self, code: int, payload: bytes) -> Any:
        if code == _EXT_BIGINT:
            text = payload.decode("ascii")
            if len(text) > 4000 or not text.lstrip("-").isdigit():
                raise DecodeError(PROTOCOL, ("bigint",), 0, "not a decimal integer")
            return int(text)
        if code not in (_EXT_FROZENSET, _EXT_ENUM, _EXT_DATACLASS):
            raise DecodeError(PROTOCOL, ("ext",), 0, f"unknown extension type {code}")
        inner = self._unpack(payload)
        if code == _EXT_FROZENSET:
            return frozenset(_tuple(inner, "frozenset"))
        if code == _EXT_ENUM:
            name, value = _pair(inner, "enum")
            cls = self._lookup(name, enum.Enum)
            try:
                return cls(value)
            except ValueError:
                raise DecodeError(PROTOCOL, (name,), 0, f"{value!r} is not a member of {name}") from None
        if code == _EXT_DATACLASS:  # pragma: no branch
            name, fields = _pair(inner, "dataclass")
            cls = self._lookup(name, None)
            if not isinstance(fields, dict) or not all(isinstance(k, str) for k in fields):
                raise DecodeError(PROTOCOL, (name,), 0, "fields are not a map of names")
            expected = {f.name for f in dataclasses.fields(cls) if f.init}
            if set(fields) != expected:
                missing, extra = sorted(expected - set(fields)), sorted(set(fields) - expected)
                raise DecodeError(PROTOCOL, (name,), 0,
                                  f"fields do not match: missing {missing}, extra {extra}")
            try:
                return cls(**fields)
            except (TypeError, ValueError) as err:
                raise DecodeError(PROTOCOL, (name,), 0, f"rejected by the class: {err}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _lookup(self, name: Any, base: type | None) -> Any:
        cls = self.registry.get(name) if isinstance(name, str) else None
        if cls is None:
            raise DecodeError(PROTOCOL, (str(name),), 0, f"unknown type {name!r}")
        if base is not None and not issubclass(cls, base):
            raise DecodeError(PROTOCOL, (name,), 0, f"{name} is not an {base.__name__}")
        if base is None and not dataclasses.is_dataclass(cls):
            raise DecodeError(PROTOCOL, (name,), 0, f"{name} is not a dataclass")
        return cls

    # -- framing ------------------------------------------------------------
    def frame(self, value: Any) -> bytes:
        """``value`` encoded and length-prefixed, ready for a stream."""
        return frame(self.encode(value))

    def framer(self) -> FrameDecoder:
        return FrameDecoder(max_frame=self.max_frame)


def _tuple(value: Any, what: str) -> tuple[Any, ...]:
    if not isinstance(value, tuple):
        raise DecodeError(PROTOCOL, (what,), 0, f"{what} payload is not an array")
    return value


def _pair(value: Any, what: str) -> tuple[Any, Any]:
    items = _tuple(value, what)
    if len(items) != 2:
        raise DecodeError(PROTOCOL, (what,), 0, f"{what} payload has {len(items)} items, not 2")
    return items[0], items[1]


def frame(payload: bytes) -> bytes:
    """``uint32 big-endian len(payload) || payload``."""
    return _HEADER.pack(len(payload)) + payload


class FrameDecoder(BufferedFramer):
    """Length-prefixed frames from a byte stream; a length over ``max_frame`` is a ``DecodeError``."""

    protocol = PROTOCOL

    def __init__(self, *, max_frame: int = MAX_FRAME, max_buffer: int | None = None) -> None:
        super().__init__(max_buffer=max_buffer if max_buffer is not None else max_frame + 4 + (1 << 16))
        self.max_frame = max_frame

    def next_frame(self) -> bytes | NeedData:
        if len(self._buf) < _HEADER.size:
            return NEED_DATA
        (length,) = _HEADER.unpack_from(self._buf)
        if length > self.max_frame:
            self._drop(len(self._buf))  # the stream has lost its framing: nothing after it can be trusted
            raise DecodeError(PROTOCOL, ("length",), 0,
                              f"frame length {length} is over the {self.max_frame} limit")
        if len(self._buf) < _HEADER.size + length:
            return NEED_DATA
        self._drop(_HEADER.size)
        return self._take(length)

    def frames(self, data: bytes) -> list[bytes]:
        """Feed ``data`` (in pieces, so a big read never overflows the buffer) and return whole frames."""
        out: list[bytes] = []
        step = max(1, self.max_buffer - self.max_frame - _HEADER.size)
        for start in range(0, len(data), step):
            self.feed(data[start:start + step])
            while not isinstance(got := self.next_frame(), NeedData):
                out.append(got)
        if not data:
            while not isinstance(got := self.next_frame(), NeedData):
                out.append(got)
        return out


def default_codec(extra: Iterable[type] = (), *, max_frame: int = MAX_FRAME,
                  modules: Iterable[str] = ()) -> WireCodec:
    """A codec that knows :data:`DEFAULT_MODULES` (those that exist), every registered algorithm's
    wire modules (:func:`.registry.wire_modules`; an algorithm that does not load is left out: it
    fails where it is chosen), the modules named in ``modules`` and the classes in ``extra``."""
    from wireproof.harness.consensus import registry as algorithms

    registry = Registry(extra)
    for name in (*DEFAULT_MODULES, *algorithms.wire_modules(), *modules):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            continue
        registry.register_module(module)
    return WireCodec(registry, max_frame=max_frame)

"""Target URLs to transports: a registry of URL schemes, extended through entry points.

Theory of operation
-------------------
Every suite runs against a target URL (DESIGN.md, "Conformance"). The URL's
scheme picks a :class:`Scheme`, a small value that says

- ``kind``: what the scheme's transports carry, ``"stream"`` (a
  :class:`~wireproof.harness.transports.base.Transport`) or ``"message"`` (a
  :class:`~wireproof.harness.transports.message.MessageTransport`);
- ``parse(url, parts)``: the rest of the URL, checked, as a target value with
  a canonical ``url`` (``parts`` is ``urllib.parse.urlsplit(url)``); a bad URL
  is a :class:`~wireproof.errors.HarnessError` naming the problem;
- ``open(target, timeout, tap)``: the transport, connected; a target that
  cannot be reached is a :class:`~wireproof.errors.TransportError` (or
  :class:`~wireproof.errors.TransportTimeout`).

Parsing is separate from opening so that a malformed ``--target`` is a usage
error before anything runs, and so that a caller can ask a URL's kind
(:func:`scheme_for`) without connecting.

Schemes come from three places, looked up by name (python-can finds its
interfaces the same way):

1. built in (:data:`BUILTIN_SCHEMES`): ``tcp`` and ``serial`` (streams),
   ``udp`` (messages);
2. the entry-point group ``wireproof.transports`` (:data:`ENTRY_POINT_GROUP`):
   name = scheme, value = ``"module:attr"`` of a :class:`Scheme`, e.g. in a
   third-party ``pyproject.toml``::

       [project.entry-points."wireproof.transports"]
       can = "wireproof_can.transport:CAN_SCHEME"

3. the protocol descriptors' ``transports`` (:mod:`wireproof.protocol`: a
   protocol package brings its scheme with its one entry point);
4. :func:`register_scheme` at run time (tests).

Built-in entries are ``"module:attr"`` strings too, and nothing is imported
until its scheme is first used, so a scheme whose library is heavy or absent
costs nothing to the others. The entry points are read once per registry.

A name has one definition. Two different ones (an entry point naming a
built-in scheme, two distributions claiming one name) make that scheme
unusable, and looking it up is a HarnessError naming both, rather than one of
them winning silently. Registering the same :class:`Scheme` again is a no-op;
a different one under a taken name needs ``replace=True``.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import SplitResult, urlsplit

from wireproof.errors import HarnessError
from wireproof.harness.transports.base import (
    DEFAULT_TIMEOUT,
    Tap,
    Target,
    Transport,
    TransportKind,
    check_timeout,
)
from wireproof.harness.transports.message import MessageTransport

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = [
    "BUILTIN_SCHEMES",
    "ENTRY_POINT_GROUP",
    "AnyTransport",
    "Scheme",
    "SchemeRegistry",
    "default_registry",
    "open_message_transport",
    "open_target",
    "open_transport",
    "parse_url",
    "register_scheme",
    "scheme_for",
    "scheme_names",
]

ENTRY_POINT_GROUP = "wireproof.transports"

BUILTIN_SCHEMES: Mapping[str, str] = {
    "tcp": "wireproof.harness.transports.tcp:TCP_SCHEME",
    "serial": "wireproof.harness.transports.serial:SERIAL_SCHEME",
    "udp": "wireproof.harness.transports.udp:UDP_SCHEME",
}
"""The schemes wireproof itself provides: name -> ``"module:attr"`` of their :class:`Scheme`."""

AnyTransport = Transport | MessageTransport

T = TypeVar("T", bound=Target)

# RFC 3986, 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ); case-insensitive,
# lower case canonical (urlsplit lowers it), so a registered name is lower case.
_SCHEME_NAME = re.compile(r"[a-z][a-z0-9+.-]*")


@dataclass(frozen=True, slots=True, kw_only=True)
class Scheme(Generic[T]):
    """How to parse and open the URLs of one scheme (see the module docstring)."""

    name: str
    kind: TransportKind
    parse: Callable[[str, SplitResult], T]
    open: Callable[[T, float, Tap | None], AnyTransport]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _SCHEME_NAME.fullmatch(self.name):
            raise HarnessError(f"transport scheme name {self.name!r} is not a lower-case URL scheme "
                               "(RFC 3986, 3.1)")
        if self.kind not in ("stream", "message"):
            raise HarnessError(f"transport scheme {self.name!r}: kind must be 'stream' or 'message', "
                               f"not {self.kind!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Definition:
    """One definition of a scheme name: where it comes from and how to get its Scheme."""

    origin: str
    value: str = ""  # "module:attr", for the built-ins and entry points
    load: Callable[[], object]


def _import_attr(value: str) -> Callable[[], object]:
    def load() -> object:
        module, _, attr = value.partition(":")
        obj: object = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj
    return load


class SchemeRegistry:
    """Schemes by name: built-ins, entry points of ``group`` (``None``: none), registrations.

    Thread-safe; :data:`default_registry` is the one the module functions use.
    """

    def __init__(self, *, builtins: Mapping[str, str] = BUILTIN_SCHEMES,
                 group: str | None = ENTRY_POINT_GROUP) -> None:
        self._lock = threading.RLock()  # re-entrant: loading a module may register a scheme
        self._builtins = dict(builtins)
        self._group = group
        self._table: dict[str, list[_Definition]] | None = None
        self._loaded: dict[str, Scheme[Any]] = {}

    def __repr__(self) -> str:
        return f"<SchemeRegistry {', '.join(self.names())}>"

    def names(self) -> list[str]:
        """Every defined scheme name, built-ins first, without importing any scheme."""
        return list(self._definitions())

    def register(self, scheme: Scheme[Any], *, replace: bool = False) -> None:
        """Add ``scheme`` under its name (HarnessError if the name is taken by another scheme)."""
        if not isinstance(scheme, Scheme):
            raise HarnessError(f"register_scheme needs a Scheme, not {type(scheme).__name__}")
        with self._lock:
            table = self._definitions()
            if scheme.name in table and not replace:
                if self._get(scheme.name, "") == scheme:
                    return
                origins = "; ".join(d.origin for d in table[scheme.name])
                raise HarnessError(f"transport scheme {scheme.name!r} is already defined ({origins}); "
                                   "pass replace=True to replace it")
            table[scheme.name] = [_Definition(origin="register_scheme", load=lambda: scheme)]
            self._loaded[scheme.name] = scheme

    def get(self, name: str) -> Scheme[Any]:
        """The scheme called ``name``; HarnessError if there is none or it cannot be loaded."""
        return self._get(name, "")

    def for_url(self, url: str) -> Scheme[Any]:
        """The scheme of ``url`` (its rest is not checked: :meth:`parse` does that)."""
        return self._split(url)[0]

    def parse(self, url: str) -> Target:
        """Parse a target URL; :class:`HarnessError` naming the problem if it is not one."""
        scheme, parts = self._split(url)
        target: Target = scheme.parse(url, parts)
        return target

    def open(self, url: str, *, timeout: float = DEFAULT_TIMEOUT, tap: Tap | None = None) -> AnyTransport:
        """Open the transport ``url`` names, of whichever kind its scheme gives."""
        scheme, parts = self._split(url)
        return self._open(url, scheme, scheme.parse(url, parts), timeout, tap)

    def open_stream(self, url: str, *, timeout: float = DEFAULT_TIMEOUT, tap: Tap | None = None) -> Transport:
        """Open a byte-stream target; a message scheme is a HarnessError."""
        transport = self._open_kind(url, "stream", "open_message_transport", timeout, tap)
        assert isinstance(transport, Transport)  # _open checked the kind
        return transport

    def open_messages(self, url: str, *, timeout: float = DEFAULT_TIMEOUT,
                      tap: Tap | None = None) -> MessageTransport:
        """Open a message target; a byte-stream scheme is a HarnessError."""
        transport = self._open_kind(url, "message", "open_transport", timeout, tap)
        assert isinstance(transport, MessageTransport)  # _open checked the kind
        return transport

    # -- internals -----------------------------------------------------------

    def _definitions(self) -> dict[str, list[_Definition]]:
        with self._lock:
            if self._table is None:
                table: dict[str, list[_Definition]] = {
                    name: [_Definition(origin="built in", value=value, load=_import_attr(value))]
                    for name, value in self._builtins.items()}
                for ep in self._entry_points():
                    name = ep.name.lower()  # scheme names are case-insensitive (RFC 3986, 3.1)
                    known = table.setdefault(name, [])
                    if any(d.value == ep.value for d in known):
                        continue  # the same definition seen twice (e.g. a path on sys.path twice)
                    dist = f" of {ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
                    known.append(_Definition(origin=f"entry point {ep.name} = {ep.value}{dist}",
                                             value=ep.value, load=ep.load))
                for protocol, name, value in self._descriptor_schemes():
                    known = table.setdefault(name.lower(), [])
                    if not any(d.value == value for d in known):
                        known.append(_Definition(origin=f"protocol {protocol}: {name} = {value}", value=value,
                                                 load=_import_attr(value)))
                self._table = table
            return self._table

    def _descriptor_schemes(self) -> list[tuple[str, str, str]]:
        if self._group is None:
            return []
        from wireproof.protocol import REGISTRY

        return [(d.name, name, value) for d in REGISTRY.descriptors() for name, value in d.transports]

    def _entry_points(self) -> list[EntryPoint]:
        if self._group is None:
            return []
        import importlib.metadata  # here: tens of milliseconds to import, paid on first use only

        return sorted(importlib.metadata.entry_points(group=self._group), key=lambda ep: (ep.name, ep.value))

    def _get(self, name: str, where: str) -> Scheme[Any]:
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            table = self._definitions()
            found = table.get(name)
            if not found:
                known = ", ".join(f"{n}://" for n in table)
                raise HarnessError(f"{where}unknown transport scheme {name!r}; known: {known}")
            if len(found) > 1:
                origins = "; ".join(d.origin for d in found)
                raise HarnessError(f"{where}transport scheme {name!r} is defined {len(found)} times "
                                   f"({origins}): remove all but one")
            definition = found[0]
            try:
                scheme = definition.load()
            except Exception as exc:  # a third-party module may fail in any way
                raise HarnessError(f"{where}transport scheme {name!r} ({definition.origin}) cannot be "
                                   f"loaded: {type(exc).__name__}: {exc}") from exc
            if not isinstance(scheme, Scheme):
                raise HarnessError(f"{where}transport scheme {name!r} ({definition.origin}) is a "
                                   f"{type(scheme).__name__}, not a wireproof Scheme")
            if scheme.name != name:
                raise HarnessError(f"{where}transport scheme {name!r} ({definition.origin}) is a Scheme "
                                   f"named {scheme.name!r}")
            self._loaded[name] = scheme
            return scheme

    def _split(self, url: str) -> tuple[Scheme[Any], SplitResult]:
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise HarnessError(f"{url!r}: not a URL: {exc}") from exc
        return self._get(parts.scheme, f"{url!r}: "), parts

    def _open_kind(self, url: str, kind: TransportKind, other: str, timeout: float,
                   tap: Tap | None) -> AnyTransport:
        scheme, parts = self._split(url)
        target = scheme.parse(url, parts)
        if scheme.kind != kind:
            raise HarnessError(f"{url!r}: {scheme.name}:// gives a {scheme.kind} transport, not a "
                               f"{kind} one: open it with {other} (or open_target)")
        return self._open(url, scheme, target, timeout, tap)

    def _open(self, url: str, scheme: Scheme[Any], target: Target, timeout: float,
              tap: Tap | None) -> AnyTransport:
        check_timeout(target.url, timeout)
        transport = scheme.open(target, timeout, tap)
        expected = Transport if scheme.kind == "stream" else MessageTransport
        if not isinstance(transport, expected):
            if isinstance(transport, Transport | MessageTransport):
                transport.close()
            raise HarnessError(f"{url!r}: transport scheme {scheme.name!r} declares {scheme.kind} "
                               f"transports but opened a {type(transport).__name__}")
        return transport


default_registry = SchemeRegistry()
"""The registry behind the module functions (a test may monkeypatch a fresh one in)."""


def register_scheme(scheme: Scheme[Any], *, replace: bool = False) -> None:
    """Make ``scheme`` available to every URL function (see the module docstring)."""
    default_registry.register(scheme, replace=replace)


def scheme_names() -> list[str]:
    """Every known scheme name (built-ins first), without importing any."""
    return default_registry.names()


def scheme_for(url: str) -> Scheme[Any]:
    """The scheme of ``url``, e.g. to ask its ``kind`` before opening it."""
    return default_registry.for_url(url)


def parse_url(url: str) -> Target:
    """Parse a target URL; :class:`HarnessError` naming the problem if it is not one.

    ``tcp://`` gives a :class:`~wireproof.harness.transports.base.TcpAddress`,
    ``serial://`` a :class:`~wireproof.harness.transports.base.SerialSettings`,
    ``udp://`` a :class:`~wireproof.harness.transports.udp.UdpAddress`.
    """
    return default_registry.parse(url)


def open_transport(url: str, *, timeout: float = DEFAULT_TIMEOUT, tap: Tap | None = None) -> Transport:
    """Open the byte-stream transport a target URL names (connecting, for TCP).

    :class:`HarnessError` for a URL that is not a target (or names a message
    transport); :class:`TransportError` (or :class:`TransportTimeout`) when the
    target cannot be reached.
    """
    return default_registry.open_stream(url, timeout=timeout, tap=tap)


def open_message_transport(url: str, *, timeout: float = DEFAULT_TIMEOUT,
                           tap: Tap | None = None) -> MessageTransport:
    """Open the message transport a target URL names (``udp://HOST:PORT``, ...)."""
    return default_registry.open_messages(url, timeout=timeout, tap=tap)


def open_target(url: str, *, timeout: float = DEFAULT_TIMEOUT, tap: Tap | None = None) -> AnyTransport:
    """Open whatever ``url`` names; its ``kind`` says whether it is a stream or a message transport."""
    return default_registry.open(url, timeout=timeout, tap=tap)

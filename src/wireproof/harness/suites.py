"""Where the conformance suites are: the protocol descriptors' suite entries, found on disk.

A suite is declared by its protocol's descriptor (:class:`~wireproof.protocol.SuiteEntry`);
its clause test files are the package the entry names, run by pytest from
that package's directory (``wireproof certify``, ``wireproof suites``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wireproof.errors import HarnessError
from wireproof.protocol import REGISTRY, SuiteEntry

__all__ = ["TARGET_PROBE_TIMEOUT", "profile_document", "suite", "suite_names", "suite_params", "suite_path",
           "target_problem"]

TARGET_PROBE_TIMEOUT = 5.0


def suite_names() -> list[str]:
    """Every registered suite, sorted."""
    return [s.name for s in REGISTRY.suites()]


def suite(name: str) -> SuiteEntry:
    """The suite called ``name``; ``KeyError`` naming the known suites if there is none."""
    try:
        return REGISTRY.suite(name)
    except KeyError:
        raise KeyError(f"no suite named {name!r}; known: {', '.join(suite_names())}") from None


def suite_path(name: str | SuiteEntry) -> Path:
    """The directory of a suite's test files.

    ``KeyError`` (naming the known suites) for an unknown name; ``HarnessError``
    if the suite's package is not installed.
    """
    entry = suite(name) if isinstance(name, str) else name
    try:
        spec = importlib.util.find_spec(entry.package)
    except ImportError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError(f"suite {entry.name!r}: package {entry.package} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def suite_params(name: str, given: Mapping[str, str]) -> dict[str, Any]:
    """Suite ``name``'s parameters: each given one parsed, the others their declared default.

    For a suite's fixtures (``given`` is the plugin's ``wireproof_params``). A
    value that does not parse, or a name the suite does not declare, is a
    :class:`HarnessError` (``wireproof certify`` has checked them already).
    """
    entry = suite(name)
    values: dict[str, Any] = {p.name: p.default for p in entry.params}
    for key, text in given.items():
        try:
            values[key] = entry.parse_param(key, text)
        except ValueError as err:
            raise HarnessError(f"parameter {key}={text}: {err}") from None
    return values


def profile_document(entry: SuiteEntry | None, data: bytes) -> dict[str, Any]:
    """A device profile file's octets as the document the suite's profile check reads.

    The suite's ``profile_reader`` when it declares one (a suite whose
    profiles come in another format), else TOML. :class:`FixtureError`
    saying why the octets are not a profile (for ``certify``, a usage error
    before any clause; for the plugin, a ``pytest.UsageError``).
    """
    from wireproof.errors import FixtureError

    if entry is not None and entry.profile_reader is not None:
        from wireproof.protocol import resolve

        document: dict[str, Any] = resolve(entry.profile_reader)(data)
        return document
    import tomllib

    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise FixtureError(f"cannot read: not UTF-8 text ({exc.reason} at octet {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise FixtureError(f"not valid TOML: {exc}") from None


def target_problem(url: str, timeout: float = TARGET_PROBE_TIMEOUT) -> str | None:
    """Why the target ``url`` is not there, or None if it is: one open and close, before any clause.

    A run against a target that is not there (connection refused, host
    unreachable, no answer to the connect within ``timeout``, no such serial
    device) has no verdict to give: one clear error, not a ``fail`` per
    clause. A target that accepts and then resets the connection *is* there;
    what it does is for the clauses to judge. A URL that does not parse is
    for the caller to have rejected (it is reported here too).
    """
    from wireproof.errors import TransportError
    from wireproof.harness.transports import open_target, peer_dropped

    try:
        transport = open_target(url, timeout=timeout)
    except TransportError as err:
        if peer_dropped(err):
            return None
        return f"the target {url} is not reachable: {err.strerror or err}; no clause was run"
    except HarnessError as err:
        return f"the target {url} cannot be opened: {err}; no clause was run"
    _close_gracefully(transport, min(timeout, 1.0))
    return None


def _close_gracefully(transport: Any, timeout: float) -> None:
    """Our FIN, then the device's (at most ``timeout`` s): a device that serves a limited number of
    connections has let this one go before the first clause connects."""
    import socket
    import time

    from wireproof.errors import TransportError

    sock = getattr(transport, "socket", None)
    try:
        if sock is not None:
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + timeout
            while (remaining := deadline - time.monotonic()) > 0 and transport.recv(4096, timeout=remaining):
                pass
    except (TransportError, OSError):
        pass
    finally:
        transport.close()

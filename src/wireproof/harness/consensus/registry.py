"""The one registry of consensus algorithms: entry points of the group ``wireproof.algorithms``.

Theory of operation
-------------------
An algorithm is an :class:`~wireproof.consensus.algorithm.AlgorithmFactory`
subclass that its distribution registers, as python-can finds its
interfaces and pytest its plugins::

    [project.entry-points."wireproof.algorithms"]
    paxos = "wireproof.consensus.paxos:PaxosFactory"

``wireproof consensus run``, ``consensus cluster`` (and its node processes),
the real-mode load generator, the Maelstrom node, the wire codec and
``wireproof bench consensus`` read this registry only, so a new algorithm is
a package plus one entry point, with no change to wireproof.

* :func:`names` lists the registered names without importing anything
  (entry point names, plus those given to :func:`register`).
* :func:`get` loads one algorithm on first use (the entry point's class,
  instantiated without arguments, then kept) and also accepts
  ``package.module:FactoryClass`` for a class that no distribution
  registers. A bare node factory, one that is not an ``AlgorithmFactory``,
  is wrapped in :class:`~wireproof.consensus.algorithm.PlainAlgorithm`.
* :func:`register` / :func:`unregister` add and remove an algorithm in this
  process (tests; a program that embeds wireproof). Names given to
  :func:`register` win over entry points of the same name.

Unknown names and classes that do not load are
:class:`~wireproof.errors.HarnessError` naming the algorithm; an entry point
whose factory calls itself by another name is one too (reports and bench
rows carry the factory's name, so the two must agree).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final

from wireproof.consensus.algorithm import AlgorithmFactory, PlainAlgorithm, RealMode
from wireproof.errors import HarnessError

__all__ = [
    "GROUP",
    "algorithms",
    "failures",
    "get",
    "names",
    "real_mode",
    "register",
    "unregister",
    "wire_modules",
]

GROUP: Final = "wireproof.algorithms"

_registered: dict[str, AlgorithmFactory] = {}
_loaded: dict[str, AlgorithmFactory] = {}


def _entry_points() -> dict[str, EntryPoint]:
    # Read on every call (a few milliseconds): an installation or a test stub changes it.
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def names() -> list[str]:
    """Every registered algorithm name, sorted; nothing is imported."""
    return sorted(set(_entry_points()) | set(_registered))


def register(factory: AlgorithmFactory | Callable[[], Any], *, name: str | None = None) -> AlgorithmFactory:
    """Register ``factory`` (an instance, or a class to instantiate) under ``name`` (default: its own)."""
    made = _instantiate(factory, name)
    _registered[made.name if name is None else name] = made
    return made


def unregister(name: str) -> None:
    """Forget an algorithm given to :func:`register` (entry points stay)."""
    _registered.pop(name, None)


def get(name: str) -> AlgorithmFactory:
    """The algorithm called ``name``, or the class ``package.module:FactoryClass`` (module docstring)."""
    if name in _registered:
        return _registered[name]
    if name in _loaded:
        return _loaded[name]
    eps = _entry_points()
    if name in eps:
        try:
            made = _instantiate(eps[name].load(), name)
        except (ImportError, AttributeError, TypeError) as err:
            raise HarnessError(f"algorithm {name!r}: cannot load {eps[name].value}: {err}") from None
        if made.name != name:
            raise HarnessError(f"algorithm {name!r}: the entry point's factory is named {made.name!r}")
    else:
        made = _load_spec(name, eps)
    _loaded[name] = made
    return made


def _load_spec(spec: str, eps: dict[str, EntryPoint]) -> AlgorithmFactory:
    module, sep, attr = spec.partition(":")
    if not sep:
        known = sorted(set(eps) | set(_registered))
        hint = "" if known else " (none registered: reinstall wireproof so its entry points are read)"
        raise HarnessError(f"unknown algorithm {spec!r} (known: {', '.join(known)}{hint}, "
                           "or package.module:FactoryClass)")
    try:
        return _instantiate(getattr(importlib.import_module(module), attr), None, spec)
    except (ImportError, AttributeError, TypeError) as err:
        raise HarnessError(f"algorithm {spec!r}: cannot load {spec}: {err}") from None


def _instantiate(obj: Any, name: str | None, spec: str | None = None) -> AlgorithmFactory:
    made = obj() if isinstance(obj, type) else obj
    if isinstance(made, AlgorithmFactory):
        return made
    if not (callable(getattr(made, "create", None)) and callable(getattr(made, "restore", None))):
        raise TypeError(f"{obj!r} is not a node factory (no create/restore)")
    return PlainAlgorithm(made, name or spec)


def algorithms() -> dict[str, AlgorithmFactory]:
    """Every registered algorithm that loads, by name (sorted); :func:`failures` has the others."""
    out: dict[str, AlgorithmFactory] = {}
    for name in names():
        try:
            out[name] = get(name)
        except HarnessError:
            continue
    return out


def failures() -> dict[str, str]:
    """Registered algorithms that do not load: name -> why."""
    out: dict[str, str] = {}
    for name in names():
        try:
            get(name)
        except HarnessError as err:
            out[name] = str(err)
    return out


def real_mode(name: str) -> tuple[AlgorithmFactory, RealMode]:
    """The algorithm and what ``consensus cluster`` runs for it; HarnessError when it cannot."""
    algorithm = get(name)
    mode = algorithm.real_mode()
    if mode is None:
        able = [n for n, a in algorithms().items() if a.real_mode() is not None]
        raise HarnessError(f"algorithm {name!r} does not run in `consensus cluster` "
                           f"(those that do: {', '.join(able) or 'none'}, or package.module:FactoryClass)")
    return algorithm, mode


def wire_modules() -> tuple[str, ...]:
    """The modules whose dataclasses cross the wire, for every algorithm that loads (in name order)."""
    seen: dict[str, None] = {}
    for algorithm in algorithms().values():
        seen.update(dict.fromkeys(algorithm.wire_modules()))
        mode = algorithm.real_mode()
        if mode is not None:
            seen[type(mode.factory).__module__] = None
    return tuple(seen)

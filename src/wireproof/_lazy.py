"""Packages whose exports are imported on first use (PEP 562).

A protocol's descriptor module lives inside its codec package
(``wireproof.codecs.modbus.protocol``), and every command and every pytest run
loads the descriptors: importing the package must not import the codec with
it (Construct, the message classes, the tables). A package that calls
:func:`exports` keeps its public names in ``__all__`` and its imports under
``if TYPE_CHECKING`` (what type checkers and readers see); at run time the
first access to any of those names imports the listed submodules and binds
every name of ``__all__`` they define.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["exports"]


def exports(package: str, modules: Sequence[str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: on first use, import ``modules`` (relative names)."""

    def load(name: str) -> Any:
        namespace = vars(sys.modules[package])
        public = namespace.get("__all__", ())
        if name not in public:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        for module in modules:
            loaded = importlib.import_module(f"{package}.{module}")
            for attr in public:
                if attr not in namespace and hasattr(loaded, attr):
                    namespace[attr] = getattr(loaded, attr)
        if name not in namespace:
            raise AttributeError(f"module {package!r} lists {name!r} in __all__ but none of "
                                 f"{', '.join(modules)} defines it")
        return namespace[name]
    return load

"""What the compiled build (mypyc, ``WIREPROOF_MYPYC=1``) must know of a class; nothing in the pure build.

:func:`mypyc_attr` is mypy_extensions' decorator where that package is
installed (always in the compiled build, whose backend brings mypy), and a
no-op otherwise: the pure-Python install does not depend on it.
``allow_interpreted_subclasses=True`` marks a class that compiled code
defines and interpreted code (a protocol package, a test) may subclass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

__all__ = ["mypyc_attr"]

T = TypeVar("T")

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr
else:
    try:
        from mypy_extensions import mypyc_attr
    except ImportError:  # the pure build: the decorator only informs mypyc

        def mypyc_attr(*attrs: str, **kwattrs: Any) -> Any:
            return lambda cls: cls

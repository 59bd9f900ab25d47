"""The PEP 517 build backend: setuptools, plus mypyc for the compiled wheel.

A *wheel* build (``pip install .``, ``python -m build``) compiles the
replay's hot path with mypyc (the module list is in ``setup.py``) when it
can: this backend then asks the frontend for mypy too. What decides is
:func:`decide`, from ``WIREPROOF_MYPYC``:

- unset or empty: compiled where a C compiler (and the Python headers) is
  found, else pure Python, with one line on stderr saying so; if the
  compiled build fails anyway (mypyc's type check, the C compiler), the
  wheel is built again as pure Python, with one line saying why;
- ``1``: compiled, and a build that cannot compile fails;
- ``0``: pure Python.

Editable installs and sdists are always pure Python, so edited sources are
what runs. ``tox`` runs the tests on both builds: ``py311`` (pure, forced
with ``WIREPROOF_MYPYC=0``) and ``compiled`` (forced with ``=1``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import sysconfig
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401  (the hooks this backend does not change)
    build_editable,
    build_sdist,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

MYPY = "mypy>=1.10,<3"
PREFIX = "wireproof build:"


def compiler_problem() -> str | None:
    """Why a C extension cannot be built here (None: a compiler and the Python headers are found).

    The compiler is the one setuptools would run: ``$CC``, else the one
    Python was built with (``sysconfig``'s ``CC``).
    """
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or ""
    words = shlex.split(cc) if cc else []
    if not words or shutil.which(words[0]) is None:
        return f"no C compiler ({words[0] if words else 'CC'} not found)"
    include = sysconfig.get_paths().get("include", "")
    if not os.path.exists(os.path.join(include, "Python.h")):
        return f"no Python headers (Python.h not in {include}; Debian: python3-dev)"
    return None


def decide(setting: str | None, problem: str | None) -> tuple[bool, bool, str | None]:
    """(compile, required, line to print) for ``WIREPROOF_MYPYC`` = ``setting`` and the
    :func:`compiler_problem` ``problem``."""
    setting = (setting or "").strip()
    if setting == "0":
        return False, False, None
    if setting:  # anything else set: the compiled build is required
        return True, True, None
    if problem is not None:
        return False, False, (f"{PREFIX} pure Python ({problem}); WIREPROOF_MYPYC=1 requires "
                              "the compiled build")
    return True, False, None


def _decision() -> tuple[bool, bool, str | None]:
    setting = os.environ.get("WIREPROOF_MYPYC")
    # A forced choice needs no look for a compiler.
    problem = compiler_problem() if not (setting or "").strip() else None
    return decide(setting, problem)


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    requires: list[str] = _setuptools.get_requires_for_build_wheel(config_settings)
    return [*requires, MYPY] if _decision()[0] else requires


def _build(compiled: bool, wheel_directory: str, config_settings: dict[str, Any] | None,
           metadata_directory: str | None) -> str:
    if compiled:
        os.environ["WIREPROOF_MYPYC_BUILD"] = "1"  # read by setup.py
    try:
        name: str = _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)
    finally:
        os.environ.pop("WIREPROOF_MYPYC_BUILD", None)
    return name


def build_wheel(wheel_directory: str, config_settings: dict[str, Any] | None = None,
                metadata_directory: str | None = None) -> str:
    compiled, required, line = _decision()
    if line:
        print(line, file=sys.stderr, flush=True)
    if not compiled or required:
        return _build(compiled, wheel_directory, config_settings, metadata_directory)
    try:
        return _build(True, wheel_directory, config_settings, metadata_directory)
    except (Exception, SystemExit) as exc:  # mypyc's type check exits; a compiler error raises
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        print(f"{PREFIX} pure Python (the mypyc build failed: {type(exc).__name__}: {reason}); "
              "WIREPROOF_MYPYC=1 requires the compiled build", file=sys.stderr, flush=True)
    return _build(False, wheel_directory, config_settings, metadata_directory)

"""The PEP 517 build backend: setuptools, plus mypyc for the compiled wheel.

A plain build (``pip install .``, an editable install, an sdist) is pure
Python. With ``WIREPROOF_MYPYC=1`` in the environment, a *wheel* build also
needs mypy (this backend asks the frontend for it) and compiles the replay's
hot path with mypyc (the module list is in ``setup.py``). Editable installs
stay pure Python, so edited sources are what runs. Both builds run the same
tests (``tox`` runs ``py311``, pure, and ``compiled``).
"""

from __future__ import annotations

import os
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


def _compiling() -> bool:
    return os.environ.get("WIREPROOF_MYPYC", "") not in ("", "0")


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    requires: list[str] = _setuptools.get_requires_for_build_wheel(config_settings)
    return [*requires, MYPY] if _compiling() else requires


def build_wheel(wheel_directory: str, config_settings: dict[str, Any] | None = None,
                metadata_directory: str | None = None) -> str:
    if _compiling():
        os.environ["WIREPROOF_MYPYC_BUILD"] = "1"  # read by setup.py
    try:
        name: str = _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)
    finally:
        os.environ.pop("WIREPROOF_MYPYC_BUILD", None)
    return name

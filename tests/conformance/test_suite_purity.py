"""The conformance suites do no I/O of their own: the harness does it for them (DESIGN.md, "Layers").

Every module of every suite package under ``wireproof/conformance`` is parsed;
it may import the harness (clause tests are run by it, and the harness's
client and resource reader are how a suite touches the world), but not the
I/O modules, and it may not call ``open()``. The package's own
``__init__.py`` (the suite registry) is left to the registry's tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import wireproof

FORBIDDEN = {"os", "pathlib", "io", "time", "socket", "threading", "random", "asyncio", "select",
             "selectors", "subprocess", "multiprocessing", "shutil", "tempfile", "importlib.resources"}

ROOT = Path(wireproof.__file__).parent / "conformance"
SUITE_MODULES = sorted(p for p in ROOT.rglob("*.py") if p.parent != ROOT)


def io_uses(source: str) -> list[str]:
    bad = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            bad.append(f"line {node.lineno}: open()")
        hits = [name for name in names if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)]
        if hits:
            bad.append(f"line {node.lineno}: import {hits[0]}")
    return bad


def test_suite_modules_found() -> None:
    assert any(p.name == "profile.py" for p in SUITE_MODULES)


@pytest.mark.parametrize("path", SUITE_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_suite_module_does_no_io(path: Path) -> None:
    bad = io_uses(path.read_text())
    assert not bad, f"conformance/{path.relative_to(ROOT)} does I/O itself: {bad}"


def test_checker_can_fail() -> None:
    src = ("import os\nfrom importlib import resources\nimport time as t\n"
           "def f():\n    with open('x') as f:\n        return f.read()\n"
           "from wireproof.harness.resources import read_text\nimport importlib.util\n")
    assert io_uses(src) == ["line 1: import os", "line 2: import importlib.resources",
                            "line 3: import time", "line 5: open()"]

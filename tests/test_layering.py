"""DESIGN.md: only wireproof.harness may import I/O modules.

Every module under the pure packages (codecs, consensus, errors) is parsed and
each of its import statements checked — at module level and inside functions
— against the forbidden list, and against importing the harness. Since the
pure modules only import each other, this is transitive. (Third-party
dependencies such as Construct are out of scope: Construct imports ``time``
for a sleep it never calls on our paths.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import wireproof

FORBIDDEN = {"socket", "asyncio", "threading", "time", "random", "select", "selectors",
             "subprocess", "multiprocessing", "serial", "can", "scapy", "pymodbus", "wireproof.harness"}
# Adapters for optional peer libraries are allowed to import them (and only them).
ALLOWED_PER_FILE = {"scapy_layer.py": {"scapy"}}

ROOT = Path(wireproof.__file__).parent
PURE = [p for p in sorted(ROOT.rglob("*.py"))
        if p.relative_to(ROOT).parts[0] in {"codecs", "consensus", "errors.py"}]


def forbidden_imports(source: str, allowed: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    bad = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            hit = {f for f in FORBIDDEN if name == f or name.startswith(f + ".")}
            if hit - allowed:
                bad.append(f"line {node.lineno}: import {name}")
    return bad


def test_pure_modules_found() -> None:
    assert any(p.name == "_core.py" for p in PURE)


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_imports_no_io(path: Path) -> None:
    bad = forbidden_imports(path.read_text(), ALLOWED_PER_FILE.get(path.name, set()))
    assert not bad, f"{path.relative_to(ROOT)} imports I/O modules: {bad}"


def test_checker_can_fail() -> None:
    src = ("import os\ndef f():\n    import socket\n"
           "from asyncio import sleep\nfrom wireproof.harness import cli\n")
    assert len(forbidden_imports(src)) == 3

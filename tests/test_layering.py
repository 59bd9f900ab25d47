"""DESIGN.md: only wireproof.harness may import I/O modules.

Every module under the pure packages (codecs, consensus, errors, transcript)
is parsed and each of its import statements checked — at module level and
inside functions — against the forbidden list, and against importing the
harness. Since the pure modules only import each other, this is transitive.
(Third-party dependencies such as Construct are out of scope: Construct
imports ``time`` for a sleep it never calls on our paths.)

The stricter rule — no ``os``, no ``pathlib``, no call of the builtin
``open()`` either: pure code reads no files — covers the modules in
:data:`STRICT` (consensus and the transcript format for now; the codecs
follow).
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

# Pure code reads no files either: no os, no pathlib, no open() (checked where STRICT says).
FORBIDDEN_FILES = {"os", "pathlib"}

ROOT = Path(wireproof.__file__).parent
PURE = [p for p in sorted(ROOT.rglob("*.py"))
        if p.relative_to(ROOT).parts[0] in {"codecs", "consensus", "errors.py", "transcript.py"}]
STRICT = [p for p in PURE if p.relative_to(ROOT).parts[0] in {"consensus", "transcript.py"}]


def forbidden_imports(source: str, allowed: set[str] = frozenset(),  # type: ignore[assignment]
                      forbidden: set[str] = FORBIDDEN) -> list[str]:
    bad = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            hit = {f for f in forbidden if name == f or name.startswith(f + ".")}
            if hit - allowed:
                bad.append(f"line {node.lineno}: import {name}")
    return bad


def file_access(source: str) -> list[str]:
    """Imports of os/pathlib and calls of the builtin ``open()`` (a Call whose func is the Name ``open``)."""
    bad = forbidden_imports(source, forbidden=FORBIDDEN_FILES)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            bad.append(f"line {node.lineno}: open()")
    return bad


def test_pure_modules_found() -> None:
    assert any(p.name == "_core.py" for p in PURE)


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_imports_no_io(path: Path) -> None:
    bad = forbidden_imports(path.read_text(), ALLOWED_PER_FILE.get(path.name, set()))
    assert not bad, f"{path.relative_to(ROOT)} imports I/O modules: {bad}"


def test_strict_modules_found() -> None:
    names = {str(p.relative_to(ROOT)) for p in STRICT}
    assert "transcript.py" in names and "consensus/api.py" in names
    assert not any(n.startswith("codecs/") for n in names)


@pytest.mark.parametrize("path", STRICT, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_reads_no_files(path: Path) -> None:
    bad = file_access(path.read_text())
    assert not bad, f"{path.relative_to(ROOT)} reaches the file system: {bad}"


def test_checker_can_fail() -> None:
    src = ("import os\ndef f():\n    import socket\n"
           "from asyncio import sleep\nfrom wireproof.harness import cli\n")
    assert len(forbidden_imports(src)) == 3
    files = ("import os.path\nfrom pathlib import Path\ndef f(p):\n    with open(p) as fh:\n"
             "        return fh.read() + p.open().read()\n")
    # os.path, pathlib and the builtin open(); a method named open is not the builtin
    assert file_access(files) == ["line 1: import os.path", "line 2: import pathlib", "line 4: open()"]

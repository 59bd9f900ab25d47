"""DESIGN.md, "Layers": only wireproof.harness does I/O. One place checks it for every module.

Every module of the pure layers (:data:`PURE`: the codecs, consensus, the
error tree, the transcript format, and the neutral :mod:`wireproof.protocol`
and :mod:`wireproof._lazy`) and of the conformance suites (:data:`SUITES`)
is parsed, and each of its import statements — at module level and inside
functions, relative ones resolved — is checked against its layer's forbidden
list; its source is also searched for the builtin ``open``. Since the pure
modules only import each other, the rule is transitive. (Third-party
dependencies such as Construct are out of scope: Construct imports ``time``
for a sleep it never calls on our paths.)

- Pure modules import no I/O module, no peer library and not the harness
  (:data:`FORBIDDEN`), and read no files: no ``os``, ``pathlib`` or
  ``importlib.resources``, no ``open()`` (:data:`FORBIDDEN_FILES`). The
  descriptor registry and the lazy exports do use :mod:`importlib` and
  :mod:`importlib.metadata` (that is how protocols are found): allowed.
- Conformance suites are clause tests that the harness runs: they may import
  the harness (its client, transports and resource reader are how a suite
  touches the world) and pytest, but no I/O module themselves, and they call
  no ``open()`` (:data:`SUITE_FORBIDDEN`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import wireproof

IO = {"socket", "asyncio", "threading", "time", "random", "select", "selectors", "subprocess",
      "multiprocessing", "serial"}
PEERS = {"can", "scapy", "pymodbus"}
FILES = {"os", "pathlib", "importlib.resources"}

FORBIDDEN = IO | PEERS | {"wireproof.harness"}
FORBIDDEN_FILES = FILES
# Adapters for optional peer libraries are allowed to import them (and only them).
ALLOWED_PER_FILE = {"scapy_layer.py": {"scapy"}}
# Suites: besides the I/O and file modules, no in-memory file or temporary-file shortcuts either.
SUITE_FORBIDDEN = IO | PEERS | FILES | {"io", "shutil", "tempfile"}

ROOT = Path(wireproof.__file__).parent
PURE_PARTS = {"codecs", "consensus", "errors.py", "transcript.py", "protocol.py", "_lazy.py"}
PURE = [p for p in sorted(ROOT.rglob("*.py")) if p.relative_to(ROOT).parts[0] in PURE_PARTS]
SUITES = sorted((ROOT / "conformance").rglob("*.py"))


def module_name(path: Path) -> str:
    """``codecs/modbus/pdu.py`` -> ``wireproof.codecs.modbus.pdu`` (a package is its ``__init__``)."""
    parts = ("wireproof", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(node: ast.AST, module: str = "", is_package: bool = False) -> list[str]:
    """What an import statement imports: ``import a.b`` -> a.b; ``from a import b`` -> a, a.b.

    ``from a import b`` may bind the submodule ``a.b`` (``from importlib import
    resources``), so both are reported. A relative import is resolved against
    ``module`` (whose own package is itself when ``is_package``).
    """
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[:len(package) - (node.level - 1)] if node.level > 1 else package
        base = ".".join([*anchor, *([base] if base else [])])
    return [base, *(f"{base}.{a.name}" for a in node.names)] if base else [a.name for a in node.names]


def forbidden_imports(source: str, forbidden: set[str] = FORBIDDEN,
                      allowed: set[str] = frozenset(),  # type: ignore[assignment]
                      module: str = "", is_package: bool = False) -> list[str]:
    """One line per import statement that reaches a ``forbidden`` module (or a submodule of one), in order."""
    bad: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        for name in imported_names(node, module, is_package):
            hit = {f for f in forbidden if name == f or name.startswith(f + ".")}
            if hit - allowed:
                lineno: int = node.lineno  # type: ignore[attr-defined]
                bad.append((lineno, f"line {lineno}: import {name}"))
                break
    return [text for _, text in sorted(bad)]


def open_uses(source: str) -> list[str]:
    """Uses of the builtin ``open`` (called or passed around) and of ``io.open``.

    A method or attribute named ``open`` (``pairing.open(...)``, ``p.open()``) is not the builtin.
    """
    bad: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and node.id == "open" and isinstance(node.ctx, ast.Load):
            bad.append((node.lineno, f"line {node.lineno}: open()"))
        elif isinstance(node, ast.Attribute) and node.attr == "open" and \
                isinstance(node.value, ast.Name) and node.value.id == "io":
            bad.append((node.lineno, f"line {node.lineno}: io.open()"))
    return [text for _, text in sorted(bad)]


def check(path: Path, forbidden: set[str]) -> list[str]:
    source = path.read_text(encoding="utf-8")
    allowed = ALLOWED_PER_FILE.get(path.name, set())
    return forbidden_imports(source, forbidden, allowed, module_name(path),
                             path.name == "__init__.py") + open_uses(source)


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_modules_found() -> None:
    pure = {_id(p) for p in PURE}
    assert {"codecs/_core.py", "codecs/vectors.py", "consensus/api.py", "errors.py", "transcript.py",
            "protocol.py", "_lazy.py"} <= pure
    assert not any(n.startswith(("harness/", "conformance/")) for n in pure)
    suites = {_id(p) for p in SUITES}
    assert "conformance/__init__.py" in suites
    assert any(n.endswith("/profile.py") for n in suites)


@pytest.mark.parametrize("path", PURE, ids=_id)
def test_pure_module_does_no_io(path: Path) -> None:
    bad = check(path, FORBIDDEN | FORBIDDEN_FILES)
    assert not bad, f"{_id(path)} reaches I/O, a peer library, the file system or the harness: {bad}"


@pytest.mark.parametrize("path", SUITES, ids=_id)
def test_suite_module_does_no_io(path: Path) -> None:
    bad = check(path, SUITE_FORBIDDEN)
    assert not bad, f"{_id(path)} does I/O itself instead of through the harness: {bad}"


def test_checker_can_fail() -> None:
    pure = FORBIDDEN | FORBIDDEN_FILES
    src = ("import os\ndef f():\n    import socket\n"
           "from asyncio import sleep\nfrom wireproof.harness import cli\nimport serial.tools\n"
           "import scapy.all\n")
    assert forbidden_imports(src) == ["line 3: import socket", "line 4: import asyncio",
                                      "line 5: import wireproof.harness", "line 6: import serial.tools",
                                      "line 7: import scapy.all"]
    # The per-file allowance lets a peer adapter import its peer, and nothing else.
    assert forbidden_imports("import scapy.all\nimport time\n", allowed={"scapy"}) == ["line 2: import time"]
    files = ("import os.path\nfrom pathlib import Path\nfrom importlib import resources\n"
             "import importlib.resources.abc\nimport importlib\nfrom importlib.metadata import version\n")
    assert forbidden_imports(files, pure) == ["line 1: import os.path", "line 2: import pathlib",
                                              "line 3: import importlib.resources",
                                              "line 4: import importlib.resources.abc"]
    # The builtin open, called or aliased, and io.open; a method named open is not the builtin.
    opens = ("def f(p, pairing):\n    with open(p) as fh:\n        return fh.read() + p.open().read()\n"
             "reader = open\nimport io\nio.open('x')\npairing.open(0, 'request')\n")
    assert open_uses(opens) == ["line 2: open()", "line 4: open()", "line 6: io.open()"]
    # Relative imports are resolved, so the harness cannot be reached around the rule.
    rel = "from ...harness import cli\nfrom ... import harness\nfrom . import pdu\nfrom .. import _core\n"
    assert forbidden_imports(rel, module="wireproof.codecs.modbus.adu") == \
        ["line 1: import wireproof.harness", "line 2: import wireproof.harness"]
    assert forbidden_imports("from .. import harness\n", module="wireproof.codecs",
                             is_package=True) == ["line 1: import wireproof.harness"]
    # Suites may import the harness and pytest, but not the I/O or file modules.
    suite = ("import pytest\nfrom wireproof.harness.fixtures import read_packaged_text\nimport time as t\n"
             "from importlib import resources\nimport tempfile\n")
    assert forbidden_imports(suite, SUITE_FORBIDDEN) == ["line 3: import time",
                                                         "line 4: import importlib.resources",
                                                         "line 5: import tempfile"]
    # The checks are wired to the files: a forbidden line in a real module's text is found.
    path = next(p for p in PURE if p.name == "errors.py")
    assert check(path, pure) == []
    assert forbidden_imports(path.read_text() + "\nimport pathlib\n", pure)


def test_module_names() -> None:
    assert module_name(ROOT / "codecs" / "modbus" / "pdu.py") == "wireproof.codecs.modbus.pdu"
    assert module_name(ROOT / "codecs" / "__init__.py") == "wireproof.codecs"

"""The build backend (tools/build_backend.py): compiled where it can, pure Python with a line where not."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _backend() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wireproof_build_backend",
                                                  ROOT / "tools" / "build_backend.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_decide_the_variable_forces_either_way_and_unset_follows_the_compiler() -> None:
    decide = _backend().decide
    assert decide("0", None) == (False, False, None)
    assert decide("0", "no C compiler") == (False, False, None)
    assert decide("1", "no C compiler") == (True, True, None)  # forced: the build fails, not falls back
    assert decide(None, None) == (True, False, None)
    assert decide("", None) == (True, False, None)
    compiled, required, line = decide(None, "no C compiler (cc not found)")
    assert (compiled, required) == (False, False)
    assert line is not None and line.startswith("wireproof build: pure Python (no C compiler (cc not found))")
    assert "WIREPROOF_MYPYC=1" in line and "\n" not in line


def test_compiler_problem_names_a_missing_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = _backend()
    monkeypatch.setenv("CC", "/nonexistent/bin/cc -pthread")
    assert backend.compiler_problem() == "no C compiler (/nonexistent/bin/cc not found)"
    monkeypatch.setenv("CC", sys.executable)  # something that exists stands for a compiler here
    problem = backend.compiler_problem()
    assert problem is None or problem.startswith("no Python headers")


def test_requires_mypy_only_for_a_compiled_build(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = _backend()
    monkeypatch.setattr(backend._setuptools, "get_requires_for_build_wheel", lambda settings=None: ["wheel"])
    monkeypatch.setenv("WIREPROOF_MYPYC", "0")
    assert backend.get_requires_for_build_wheel() == ["wheel"]
    monkeypatch.setenv("WIREPROOF_MYPYC", "1")
    assert backend.get_requires_for_build_wheel() == ["wheel", backend.MYPY]
    monkeypatch.delenv("WIREPROOF_MYPYC")
    monkeypatch.setenv("CC", "/nonexistent/bin/cc")
    assert backend.get_requires_for_build_wheel() == ["wheel"]


def test_a_failed_mypyc_build_falls_back_to_pure_python_with_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    backend = _backend()
    monkeypatch.delenv("WIREPROOF_MYPYC", raising=False)
    monkeypatch.setattr(backend, "compiler_problem", lambda: None)
    builds: list[bool] = []

    def build(compiled: bool, *args: object) -> str:
        builds.append(compiled)
        if compiled:
            raise SystemExit("mypyc: error: 3 type errors")
        return "wireproof-0.1.0-py3-none-any.whl"

    monkeypatch.setattr(backend, "_build", build)
    assert backend.build_wheel("dist") == "wireproof-0.1.0-py3-none-any.whl"
    assert builds == [True, False]
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["wireproof build: pure Python (the mypyc build failed: SystemExit: mypyc: error: 3 type "
                     "errors); WIREPROOF_MYPYC=1 requires the compiled build"]
    # Forced, the failure is the build's.
    monkeypatch.setenv("WIREPROOF_MYPYC", "1")
    builds.clear()
    with pytest.raises(SystemExit):
        backend.build_wheel("dist")
    assert builds == [True]


def test_a_wheel_built_where_there_is_no_compiler_is_pure_python_and_says_so(tmp_path: Path) -> None:
    """The real backend through pip, on a copy of the project, with ``CC`` pointing nowhere, no variable."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "tools", project / "tools")
    shutil.copytree(ROOT / "src", project / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info"))
    out = tmp_path / "dist"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("WIREPROOF_MYPYC", "WIREPROOF_MYPYC_BUILD")}
    env["CC"] = "/nonexistent/bin/cc"
    # What `pip install .` runs, through pip (build isolation fetches setuptools; -v shows the backend's
    # output).
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps",
                           "--disable-pip-version-check", "-w", str(out), str(project)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [wheel_path] = out.glob("*.whl")
    name = wheel_path.name
    assert name.endswith("-py3-none-any.whl"), name
    said = [line.strip() for line in (done.stdout + done.stderr).splitlines()
            if "wireproof build:" in line]
    assert said == ["wireproof build: pure Python (no C compiler (/nonexistent/bin/cc not found)); "
                    "WIREPROOF_MYPYC=1 requires the compiled build"]
    with zipfile.ZipFile(out / name) as wheel:
        names = wheel.namelist()
    assert "wireproof/harness/replay/engine.py" in names
    assert not [n for n in names if n.endswith(".so")]

"""The profile-reader seam: a suite whose device profiles are not TOML declares ``SuiteEntry.profile_reader``.

``wireproof.harness.suites.profile_document`` reads a profile file's octets
with the suite's reader when it has one, else as TOML; ``certify`` (before
any clause) and the pytest plugin (``--wireproof-profile``) both go through
it, so a reader's refusal is a usage error in both, and a suite without a
reader keeps reading TOML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wireproof.errors import FixtureError
from wireproof.harness.commands.certify import _profile_problem
from wireproof.harness.suites import profile_document
from wireproof.protocol import SuiteEntry


def read_lines(data: bytes) -> dict[str, Any]:
    """A toy profile format: ``key: value`` lines; anything else is refused."""
    out: dict[str, Any] = {}
    for line in data.decode().splitlines():
        key, sep, value = line.partition(": ")
        if not sep:
            raise FixtureError(f"line {line!r} is not 'key: value'")
        out[key] = value
    return out


def check_lines(document: dict[str, Any]) -> dict[str, Any]:
    if "name" not in document:
        raise FixtureError("profile: no name")
    return document


READER = f"{__name__}:read_lines"
ENTRY = SuiteEntry(name="lines-suite", package="nowhere", description="", protocol="none",
                   profile_reader=READER, profile=f"{__name__}:check_lines")
PLAIN = SuiteEntry(name="toml-suite", package="nowhere", description="", protocol="none")


def test_reader_reads_the_octets() -> None:
    assert profile_document(ENTRY, b"name: x\nspeed: 9600") == {"name": "x", "speed": "9600"}
    with pytest.raises(FixtureError, match="not 'key: value'"):
        profile_document(ENTRY, b"garbage")


def test_without_reader_toml() -> None:
    assert profile_document(PLAIN, b'[device]\nname = "x"\n') == {"device": {"name": "x"}}
    assert profile_document(None, b"a = 1\n") == {"a": 1}
    with pytest.raises(FixtureError, match="not valid TOML"):
        profile_document(PLAIN, b"name: x\n")
    with pytest.raises(FixtureError, match="not UTF-8"):
        profile_document(None, b"\xff\xfe")


def test_certify_reads_the_profile_with_the_reader(tmp_path: Path) -> None:
    good, bad, unchecked = tmp_path / "good", tmp_path / "bad", tmp_path / "unchecked"
    good.write_bytes(b"name: device 1\n")
    bad.write_bytes(b"= = =\n")
    unchecked.write_bytes(b"speed: 1\n")
    assert _profile_problem(ENTRY, good) is None
    assert "not 'key: value'" in (_profile_problem(ENTRY, bad) or "")
    assert _profile_problem(ENTRY, unchecked) == "profile: no name"  # then the suite's check
    assert _profile_problem(ENTRY, tmp_path / "missing") == "no such file"
    assert "not valid TOML" in (_profile_problem(PLAIN, good) or "")


def test_plugin_reads_the_profile_with_the_reader(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from wireproof.harness import runinfo

    monkeypatch.setattr(runinfo, "suite_entry", lambda name: ENTRY if name == "lines-suite" else None)
    (pytester.path / "p.lines").write_bytes(b"name: device 1\n")
    (pytester.path / "bad.lines").write_bytes(b"nonsense\n")
    pytester.makepyfile(test_profile='''
def test_profile(wireproof_profile):
    assert wireproof_profile == {"name": "device 1"}
''')
    suite = ("--wireproof-suite", "lines-suite", "--wireproof-profile")
    result = pytester.runpytest_inprocess(*suite, "p.lines")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest_inprocess(*suite, "bad.lines")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--wireproof-profile bad.lines: line 'nonsense' is not 'key: value'*"])

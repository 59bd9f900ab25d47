"""Every registered protocol's TOML vectors, checked every way (STYLE.md, rule 6).

The protocols are the descriptors of :data:`wireproof.protocol.REGISTRY`; each
one's ``fixtures`` names the folder whose ``vectors/*.toml`` are read by the
harness (:mod:`wireproof.harness.fixtures`) and each vector is checked by
:func:`wireproof.codecs.testing.check_vector`. A declared fixtures folder that
is missing, a vector file that cannot be read or parsed, an empty file, or a
codec with no vector at all fails :func:`test_protocol_fixtures` (never a
skip): those are packaging bugs, and skipping would hide exactly them.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from wireproof.codecs.testing import check_vector
from wireproof.codecs.vectors import Vector
from wireproof.errors import FixtureError
from wireproof.harness.fixtures import load_vectors, vector_files
from wireproof.protocol import REGISTRY, CodecEntry, ProtocolDescriptor

DESCRIPTORS = REGISTRY.descriptors()


def protocol_vectors(descriptor: ProtocolDescriptor) -> list[Vector]:
    """Every vector of ``descriptor``'s fixtures; raises on any defect (see the module docstring)."""
    codecs = {c.name for c in descriptor.codecs}
    if codecs and descriptor.fixtures is None:
        raise AssertionError(f"protocol {descriptor.name!r} declares codecs but no fixtures")
    vectors: list[Vector] = []
    for file in vector_files(descriptor):
        loaded = load_vectors(file)
        assert loaded, f"{file}: no [[vector]] in it"
        for vec in loaded:
            assert vec.codec in codecs, \
                f"{vec.source}: vector {vec.name!r} names codec {vec.codec!r}, not one of {sorted(codecs)}"
        vectors += loaded
    missing = codecs - {v.codec for v in vectors}
    assert not missing, f"protocol {descriptor.name!r}: no vector for codec(s) {sorted(missing)}"
    return vectors


def collected(descriptors: list[ProtocolDescriptor]) -> list[Vector]:
    """The vectors to parametrize over; a protocol whose fixtures are broken adds none here and
    fails :func:`test_protocol_fixtures` instead (collection must not stop at the first)."""
    out: list[Vector] = []
    for d in descriptors:
        try:
            out += protocol_vectors(d)
        except (FixtureError, AssertionError):
            continue
    return out


def test_protocols_registered() -> None:
    assert DESCRIPTORS, "no protocol registered: is wireproof installed (pip install -e .)?"


@pytest.mark.parametrize("descriptor", DESCRIPTORS, ids=lambda d: d.name)
def test_protocol_fixtures(descriptor: ProtocolDescriptor) -> None:
    protocol_vectors(descriptor)


@pytest.mark.parametrize("vec", collected(DESCRIPTORS), ids=lambda v: v.id)
def test_vector(vec: Vector) -> None:
    check_vector(vec)


# --- the checks can fail -----------------------------------------------------------------------------


@pytest.fixture
def fixture_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An importable package ``wp_fixture_probe`` in ``tmp_path``; returns its folder."""
    pkg = tmp_path / "wp_fixture_probe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "wp_fixture_probe", raising=False)
    return pkg


def _descriptor(fixtures: str | None, codecs: tuple[str, ...] = ("modbus-tcp",)) -> ProtocolDescriptor:
    # A codec name only has to be one the vectors name; nothing is decoded here.
    return ProtocolDescriptor(name="probe", title="probe", fixtures=fixtures,
                              codecs=tuple(CodecEntry(name=c, factory="nowhere:nothing") for c in codecs))


def _write(pkg: Path, name: str, text: str) -> None:
    folder = pkg / "probe" / "vectors"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))


GOOD = """\
    codec = "modbus-tcp"
    [[vector]]
    name = "fc03 request"
    hex = "0001 0000 0006 01 03 006b 0003"
"""


def test_good_fixtures_pass(fixture_package: Path) -> None:
    _write(fixture_package, "good.toml", GOOD)
    (vec,) = protocol_vectors(_descriptor("wp_fixture_probe:probe"))
    assert vec.data == bytes.fromhex("0001000000060103006b0003")
    assert vec.source.endswith("good.toml")


@pytest.mark.parametrize("fixtures", ["wp_fixture_probe:absent", "wp_no_such_package:probe", "no-colon"])
def test_missing_fixtures_folder_fails(fixture_package: Path, fixtures: str) -> None:
    with pytest.raises(FixtureError):
        protocol_vectors(_descriptor(fixtures))


def test_folder_without_vectors_fails(fixture_package: Path) -> None:
    (fixture_package / "probe").mkdir()
    with pytest.raises(FixtureError, match="no vectors/ folder"):
        protocol_vectors(_descriptor("wp_fixture_probe:probe"))


@pytest.mark.parametrize(("text", "match"), [
    ("codec = \n", "bad.toml"),                                          # not TOML
    ('[[vector]]\nname = "x"\nhex = "zz"\ncodec = "modbus-tcp"\n', "bad hex"),
    ('[[vector]]\nname = "x"\nhex = "00"\n', "no codec"),
    ('vector = 3\n', "array of tables"),
])
def test_unreadable_vector_file_fails(fixture_package: Path, text: str, match: str) -> None:
    _write(fixture_package, "bad.toml", text)
    with pytest.raises(FixtureError, match=match):
        protocol_vectors(_descriptor("wp_fixture_probe:probe"))


def test_undecodable_vector_file_fails(fixture_package: Path) -> None:
    _write(fixture_package, "bad.toml", "")
    (fixture_package / "probe" / "vectors" / "bad.toml").write_bytes(b"\xff\xfe codec")
    with pytest.raises(FixtureError, match="cannot read"):
        protocol_vectors(_descriptor("wp_fixture_probe:probe"))


def test_empty_file_and_uncovered_codec_fail(fixture_package: Path) -> None:
    _write(fixture_package, "empty.toml", "# provenance: nothing\n")
    with pytest.raises(AssertionError, match="no \\[\\[vector\\]\\]"):
        protocol_vectors(_descriptor("wp_fixture_probe:probe"))
    (fixture_package / "probe" / "vectors" / "empty.toml").unlink()
    _write(fixture_package, "good.toml", GOOD)
    with pytest.raises(AssertionError, match=r"no vector for codec\(s\) \['other'\]"):
        protocol_vectors(_descriptor("wp_fixture_probe:probe", codecs=("modbus-tcp", "other")))
    with pytest.raises(AssertionError, match="names codec 'modbus-tcp', not one of"):
        protocol_vectors(_descriptor("wp_fixture_probe:probe", codecs=("other",)))


def test_codecs_without_fixtures_fail() -> None:
    with pytest.raises(AssertionError, match="no fixtures"):
        protocol_vectors(_descriptor(None))


def test_a_broken_protocol_still_collects_the_others(fixture_package: Path) -> None:
    broken = _descriptor("wp_fixture_probe:absent")
    with pytest.raises(FixtureError):
        protocol_vectors(broken)
    assert len(collected([broken, *DESCRIPTORS])) == len(collected(DESCRIPTORS)) > 0


def test_a_packaged_file_is_read_or_named() -> None:
    from wireproof.harness.fixtures import read_packaged_text

    assert "[device]" in read_packaged_text("wireproof.conformance.modbus_server", "default-profile.toml")
    with pytest.raises(FixtureError, match=r"no-such\.toml"):
        read_packaged_text("wireproof.conformance.modbus_server", "no-such.toml")
    with pytest.raises(FixtureError, match="wpfake_no_package"):
        read_packaged_text("wpfake_no_package", "x.toml")

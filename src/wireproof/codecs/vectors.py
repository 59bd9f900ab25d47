"""TOML test vectors: data files with provenance, one parser.

This module parses the text of a vector file (:func:`parse_vectors`); reading
the file is the harness's part (:func:`wireproof.harness.fixtures.load_vectors`,
and :func:`~wireproof.harness.fixtures.vector_files` finds a protocol's files
from its descriptor's ``fixtures``), so the codecs stay pure (DESIGN.md,
"Layers").

A vector file looks like::

    # provenance: MODBUS Application Protocol V1.1b3, 6.3 example
    codec = "modbus-tcp"                 # default for the file

    [[vector]]
    name = "fc03 request"
    hex = "0001 0000 0006 01 03 006b 0003"   # whitespace is ignored
    fields = { type = "ReadHoldingRegistersRequest", start_address = 107 }

    [[vector]]
    name = "fc03 quantity 0"
    hex = "0001 0000 0006 01 03 006b 0000"
    error = "DecodeError"                # class name from wireproof.errors
    offset = 10                          # optional: byte offset of the error
    path = ["pdu", "quantity"]           # optional: field path of the error

Optional keys: ``codec`` (per vector), ``reencode = false`` with ``note``
(documented asymmetry), ``frame = false`` (not a whole stream frame), ``tags``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

from wireproof.errors import FixtureError

__all__ = ["Vector", "parse_vectors"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Vector:
    """One test vector: bytes and what decoding them must give."""

    name: str
    codec: str
    data: bytes
    fields: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    offset: int | None = None
    path: tuple[str | int, ...] | None = None
    reencode: bool = True
    frame: bool = True
    tags: tuple[str, ...] = ()
    source: str = ""

    @property
    def id(self) -> str:
        return f"{self.codec}:{self.name}"


def _hex(text: str, where: str) -> bytes:
    try:
        return bytes.fromhex("".join(text.split()))
    except ValueError as err:
        raise FixtureError(f"{where}: bad hex: {err}") from None


def parse_vectors(text: str, source: str = "<vectors>") -> list[Vector]:
    """Every ``[[vector]]`` of the TOML ``text``; ``FixtureError`` (naming ``source``) on any defect.

    ``source`` names the text in errors and becomes each vector's ``source``
    (the loader passes the file's path).
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise FixtureError(f"{source}: {err}") from None
    default_codec = doc.get("codec")
    raws = doc.get("vector", [])
    if not isinstance(raws, list):
        raise FixtureError(f"{source}: 'vector' must be an array of tables ([[vector]])")
    out: list[Vector] = []
    seen: set[str] = set()
    for i, raw in enumerate(raws):
        where = f"{source}: vector {i}"
        if not isinstance(raw, dict) or "name" not in raw or "hex" not in raw:
            raise FixtureError(f"{where}: needs 'name' and 'hex'")
        codec = raw.get("codec", default_codec)
        if not codec:
            raise FixtureError(f"{where}: no codec (per vector or at file level)")
        known = {"name", "hex", "codec", "fields", "error", "offset", "path", "reencode",
                 "frame", "tags", "note"}
        unknown = set(raw) - known
        if unknown:
            raise FixtureError(f"{where}: unknown keys {sorted(unknown)}")
        if raw.get("reencode") is False and not raw.get("note"):
            raise FixtureError(f"{where}: reencode = false needs a 'note' saying why")
        vec = Vector(
            name=str(raw["name"]),
            codec=str(codec),
            data=_hex(str(raw["hex"]), where),
            fields=dict(raw.get("fields", {})),
            error=raw.get("error"),
            offset=raw.get("offset"),
            path=tuple(raw["path"]) if "path" in raw else None,
            reencode=bool(raw.get("reencode", True)),
            frame=bool(raw.get("frame", True)),
            tags=tuple(raw.get("tags", ())),
            source=source,
        )
        if vec.id in seen:
            raise FixtureError(f"{where}: duplicate vector name {vec.name!r}")
        seen.add(vec.id)
        out.append(vec)
    return out

"""Build script; the metadata is in pyproject.toml.

The compiled wheel (the default wheel build where a C compiler is found;
``WIREPROOF_MYPYC=1`` requires it, ``=0`` refuses it: ``tools/build_backend.py``)
compiles, with mypyc, the path every frame of ``wireproof replay`` takes in
the replay's own process: the neutral part listed here (the fast message
constructor that the codecs and the replay's events share, the machine
contract and the request/answer pairing machine, reader,
dissector and TCP reassembly, the engine's dispatch and its result model)
and what each protocol's descriptor lists as ``compiled`` (for Modbus: its
analyzer and PDU codec). The descriptors are
found the way the installed package finds them, through the
``wireproof.protocols`` entry points, read here from pyproject.toml since
nothing is installed yet; loading them imports only the descriptor modules.
The analytics stay Python (they run in a second process for big captures,
and pickle across). The backend sets ``WIREPROOF_MYPYC_BUILD=1`` for a compiled
build; without it this is a pure-Python build.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
NEUTRAL = (
    "wireproof.codecs._fast",
    "wireproof.codecs._machine",
    "wireproof.codecs._pairing",
    "wireproof.harness.replay.pcap",
    "wireproof.harness.replay.dissector",
    "wireproof.harness.replay.tcp",
    "wireproof.harness.replay.engine",
    "wireproof.harness.replay.result",
)


def compiled_modules() -> list[str]:
    """The source files to compile: the neutral hot path, then each protocol's."""
    sys.path.insert(0, str(HERE / "src"))
    try:
        from wireproof.protocol import ProtocolRegistry, resolve

        with open(HERE / "pyproject.toml", "rb") as f:
            project = tomllib.load(f)["project"]
        refs = project.get("entry-points", {}).get("wireproof.protocols", {})
        registry = ProtocolRegistry(resolve(ref) for ref in refs.values())
        modules = [*NEUTRAL, *registry.compiled_modules()]
    finally:
        sys.path.remove(str(HERE / "src"))
    return ["src/" + m.replace(".", "/") + ".py" for m in modules]


ext_modules = []
if os.environ.get("WIREPROOF_MYPYC_BUILD") == "1":
    from mypyc.build import mypycify

    ext_modules = mypycify(compiled_modules(), opt_level="3")

if __name__ == "__main__":
    setup(ext_modules=ext_modules)

"""Build script; the metadata is in pyproject.toml.

The compiled wheel (``WIREPROOF_MYPYC=1``, see ``tools/build_backend.py``)
compiles these modules with mypyc: the path every frame of ``wireproof
replay`` takes in the replay's own process (reader, dissector and TCP
reassembly, engine, the Modbus analyzer and PDU codec). The analytics stay
Python (they run in a second process for big captures, and pickle across).
Without the variable this is a pure-Python build.
"""

from __future__ import annotations

import os

from setuptools import setup

COMPILED = [
    "src/wireproof/harness/replay/pcap.py",
    "src/wireproof/harness/replay/dissector.py",
    "src/wireproof/harness/replay/tcp.py",
    "src/wireproof/harness/replay/engine.py",
    "src/wireproof/harness/replay/analyzers/modbus.py",
    "src/wireproof/codecs/modbus/adu.py",
    "src/wireproof/codecs/modbus/pdu.py",
]

ext_modules = []
if os.environ.get("WIREPROOF_MYPYC_BUILD") == "1":
    from mypyc.build import mypycify

    ext_modules = mypycify(COMPILED, opt_level="3")

setup(ext_modules=ext_modules)

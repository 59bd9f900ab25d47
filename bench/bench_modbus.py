"""Modbus TCP codec benchmark: wireproof vs pymodbus vs Scapy (same as ``wireproof bench modbus``).

    python bench/bench_modbus.py [--json] [--seconds S] [--quick] [--require-goals] [--profile]

The work is done by :mod:`wireproof.harness.bench.modbus`; see bench/README.md.
"""

from __future__ import annotations

import sys

from wireproof.harness.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "modbus", *sys.argv[1:]]))

"""Reference devices built on the codecs and their sans-I/O machines (impure drivers).

- :mod:`.modbus_server` — the Modbus reference server over TCP (MBAP, or RTU /
  ASCII framing over TCP) and over a serial line; :func:`running_server` for tests.
"""

from __future__ import annotations

from wireproof.harness.simulators.modbus_server import (
    ServerHandle,
    default_config_path,
    load_server,
    running_serial_server,
    running_server,
)

__all__ = [
    "ServerHandle",
    "default_config_path",
    "load_server",
    "running_serial_server",
    "running_server",
]

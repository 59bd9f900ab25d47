"""``wireproof simulate DEVICE``: run a reference device until SIGINT or SIGTERM.

The devices are those the installed protocol descriptors declare
(:class:`~wireproof.protocol.SimulatorEntry`); each adds its own options,
which ``wireproof simulate DEVICE --help`` shows, and runs itself. By
convention the first line a device prints on stdout is exactly ``listening
on ADDRESS``, flushed, so a script can start it and read one line to know it
is ready; exit status 0 after a signal, 1 if the device cannot start, 2 on
usage errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    from wireproof.harness.cli import chosen
    from wireproof.protocol import REGISTRY, resolve

    entries = REGISTRY.simulators()
    names = [e.name for e in entries]
    parser.add_argument("device", metavar="DEVICE", help=f"the reference device to run: {', '.join(names)}")
    parser.epilog = "devices:\n" + "\n".join(f"  {e.name:<16} {e.description}" for e in entries)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    name = chosen(argv, names)
    if name is not None:
        entry = REGISTRY.simulator(name)
        parser.epilog = None
        parser.description = f"{parser.description}: {entry.name}, {entry.description}"
        if entry.add_arguments is not None:
            resolve(entry.add_arguments)(parser)


def run(args: argparse.Namespace) -> int:
    from wireproof.protocol import REGISTRY, resolve

    try:
        entry = REGISTRY.simulator(args.device)
    except KeyError as exc:
        print(f"wireproof simulate: error: {exc.args[0]}", file=sys.stderr)
        return 2
    code: int = resolve(entry.run)(args)
    return code

"""The ``wireproof`` command line (also ``python -m wireproof``).

Each subcommand is a module in :mod:`wireproof.harness.commands` exposing
``add_arguments(parser)`` and ``run(args) -> int``; :data:`COMMANDS` maps its
name to that module and a one-line help. Only the module of the command being
run is imported, so ``wireproof decode`` does not pay for the simulator, and a
command whose module is missing fails alone, with a clear message. A command
whose options depend on what it runs (``certify SUITE``, ``simulate DEVICE``,
``bench NAME``: each adds the options its protocol's descriptor declares)
takes the command line as well: ``add_arguments(parser, argv)``.

Exit codes are :mod:`wireproof.harness.exitcodes`: 0 success, 1 a verdict (a
clause failed, bytes did not decode, ...), 2 usage or unreadable input, 3 an
incomplete verdict, 130 interrupted. Ctrl-C is one line and 130, never a
traceback; a command that has partial results to save (``certify``) catches
:class:`KeyboardInterrupt` itself first.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Final

from wireproof.harness.exitcodes import INTERRUPTED

__all__ = ["COMMANDS", "build_parser", "chosen", "main"]

COMMANDS: Final[dict[str, tuple[str, str]]] = {
    "certify": ("wireproof.harness.commands.certify",
                "run a conformance suite against a target; per-clause verdicts and reports"),
    "verify-report": ("wireproof.harness.commands.verify_report",
                      "check a report directory's files against its manifest (sizes and SHA-256)"),
    "suites": ("wireproof.harness.commands.suites", "list the conformance suites and their clause counts"),
    "decode": ("wireproof.harness.commands.decode", "decode hex bytes with a registered codec"),
    "simulate": ("wireproof.harness.commands.simulate", "run a reference device (e.g. modbus-server)"),
    "bench": ("wireproof.harness.commands.bench", "benchmark the codecs against peer libraries"),
    "replay": ("wireproof.harness.commands.replay",
               "decode a capture (pcap, pcapng, candump) and report every protocol rule it breaks"),
    "lincheck": ("wireproof.harness.commands.lincheck",
                 "check a recorded history (Jepsen log or wireproof JSON lines) for linearizability"),
    "consensus": ("wireproof.harness.commands.consensus",
                  "consensus workbench: real loopback clusters (cluster) and simulation runs (run)"),
}


class CommandUnavailable(Exception):
    """A subcommand's module could not be imported."""


def _load(name: str) -> ModuleType:
    module = COMMANDS[name][0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name == module:
            raise CommandUnavailable(f"command {name!r} is not available in this installation "
                                     f"(module {module} is missing)") from None
        raise CommandUnavailable(f"command {name!r} cannot start: {err}") from None


def chosen(argv: Sequence[str], names: Sequence[str]) -> str | None:
    """The first word of ``argv`` after the command that is one of ``names`` (``certify SUITE``)."""
    words = [a for a in argv if not a.startswith("-")]
    return next((w for w in words[1:] if w in names), None)


def _chosen(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(command: str | None = None, argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The argument parser; only ``command``'s module is imported to add its arguments.

    ``argv`` (the whole command line) goes to an ``add_arguments`` that takes it.
    """
    from wireproof import __version__

    parser = argparse.ArgumentParser(
        prog="wireproof", description="Protocol conformance harness and codec library.")
    parser.add_argument("--version", action="version", version=f"wireproof {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            add = _load(name).add_arguments
            if len(inspect.signature(add).parameters) > 1:
                add(p, list(argv))
            else:
                add(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = _chosen(args_list)
    try:
        parser = build_parser(command, args_list)
    except CommandUnavailable as err:
        print(f"wireproof: error: {err}", file=sys.stderr)
        return 1
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse reports usage errors (2) and --help (0) this way
        return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 2
    try:
        code: int = _load(args.command).run(args)
    except KeyboardInterrupt:
        print(f"wireproof {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # whoever read the output went away (`| head`): stop quietly, as Unix tools do, and keep
        # Python from complaining again when it flushes stdout at exit
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, the shell's status for a command ended by a broken pipe
    _warn_registry_problems()
    return code


def _warn_registry_problems() -> None:
    """A protocol package that failed to load is said, not silently missing (its flows would be "unknown")."""
    from wireproof.protocol import REGISTRY

    if REGISTRY.loaded:
        for problem in REGISTRY.problems:
            print(f"wireproof: warning: {problem}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())

"""``wireproof lincheck HISTORY``: is a recorded history linearizable?

Reads a Jepsen ``jepsen.util`` log or a wireproof JSON-lines history (see
:mod:`wireproof.consensus.check.history`; without ``--format`` a file whose
first line that is not blank or a ``#`` comment starts with ``{`` or ``[`` is
wireproof, anything else Jepsen) and checks it with
:func:`~wireproof.consensus.check.lincheck.check_linearizable`, a register per
key. Exit codes (:mod:`wireproof.harness.exitcodes`): 0 linearizable, 1 not
(the minimal witness is printed), 2 usage error or a history that is
unreadable or malformed anywhere (a line that does not parse, no operation
at all: a checker never passes what it did not read), 3 unknown (``--budget``
states explored without a verdict).

The first line of the text output (file, operations, format) is printed and
flushed before the search starts, so a long check shows what it is checking.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["EXIT_CODES", "add_arguments", "guess_format", "result_json", "run"]

EXIT_CODES = {"linearizable": 0, "not-linearizable": 1, "unknown": 3}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("history", metavar="HISTORY", help="the history file")
    parser.add_argument("--format", choices=("jepsen", "wireproof"),
                        help="jepsen (jepsen.util log) or wireproof (JSON lines); guessed when absent")
    parser.add_argument("--model", choices=("kv", "register"), default="kv",
                        help="kv: a register per key (default); register: one register")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument("--budget", type=int, metavar="N",
                        help="give up (exit 3) after N search states per key")
    parser.add_argument("--no-witness", action="store_true", help="do not shrink a witness of a violation")


def guess_format(text: str) -> str:
    """``wireproof`` when the first line that is not blank or a comment starts with ``{`` or ``[``."""
    from wireproof.consensus.check.history import guess_format as guess_line

    for line in text.lstrip("\ufeff").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return guess_line(line)
    return "jepsen"


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def result_json(result: Any) -> dict[str, Any]:
    """A :class:`~wireproof.consensus.check.lincheck.LinResult` as JSON-ready data."""
    from dataclasses import asdict

    return {
        "verdict": result.verdict,
        "linearizable": result.linearizable,
        "explored": result.explored,
        "key": _jsonable(result.key),
        "keys": [{"key": _jsonable(k.key), "verdict": k.verdict, "explored": k.explored,
                  "operations": k.operations} for k in result.per_key.values()],
        "witness": [{name: _jsonable(v) for name, v in asdict(op).items()} for op in result.witness],
    }


def run(args: argparse.Namespace) -> int:
    from wireproof.consensus.check.lincheck import check_linearizable
    from wireproof.errors import FixtureError
    from wireproof.harness.consensus.histories import guess_file_format, load_history
    from wireproof.harness.exitcodes import USAGE

    if args.budget is not None and args.budget < 0:
        print("wireproof lincheck: error: --budget must be >= 0", file=sys.stderr)
        return USAGE
    fmt = args.format or guess_file_format(args.history)
    try:
        history = load_history(args.history, fmt)
    except FixtureError as exc:
        print(f"wireproof lincheck: error: {exc}", file=sys.stderr)
        return USAGE
    if not args.json:
        print(f"{args.history}: {len(history)} operations ({fmt})", flush=True)
    try:
        result = check_linearizable(history, model=args.model, budget=args.budget,
                                    witness=not args.no_witness)
    except FixtureError as exc:  # e.g. --model register on a history of several keys
        print(f"wireproof lincheck: error: {args.history}: {exc}", file=sys.stderr)
        return USAGE
    if args.json:
        print(json.dumps(result_json(result), indent=2))
    else:
        print(result.describe())
    return EXIT_CODES[result.verdict]

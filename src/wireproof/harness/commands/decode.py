"""``wireproof decode NAME HEX``: decode bytes with a registered codec.

Prints the message as an indented field tree, or with ``--json`` the
:func:`~wireproof.codecs.message_fields` JSON. A ``DecodeError`` prints its
protocol, field path, byte offset and reason, with a caret under the
offending byte (the bytes around it, not the whole input), and exits 1; a bad codec name or bad hex exits 2.
``--direction`` is passed to codecs whose descriptor says their ``decode``
takes one (a Modbus PDU alone does not say which way it goes); for any other
codec it is a usage error.
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from typing import Any

from wireproof.errors import hex_excerpt

__all__ = ["add_arguments", "caret_lines", "parse_hex", "pretty", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="codec name (e.g. modbus-tcp)")
    parser.add_argument("hex", metavar="HEX", nargs="+",
                        help="the bytes in hex; spaces, ':' and a leading 0x are ignored")
    parser.add_argument("--json", action="store_true", help="print the message fields as JSON")
    parser.add_argument("--direction", metavar="DIRECTION",
                        help="which way the bytes go, for codecs that need it (e.g. request, response)")


def parse_hex(parts: list[str]) -> bytes:
    """Bytes from hex text; ``ValueError`` saying what is wrong."""
    text = "".join(parts).replace(":", "").replace(" ", "")
    if text[:2].lower() == "0x":
        text = text[2:]
    bad = next((c for c in text if c not in string.hexdigits), None)
    if bad is not None:
        raise ValueError(f"{bad!r} is not a hex digit")
    if len(text) % 2:
        raise ValueError(f"odd number of hex digits ({len(text)})")
    return bytes.fromhex(text)


def caret_lines(data: bytes, offset: int, width: int = 32) -> list[str]:
    """The bytes around ``offset`` as spaced hex, ``width`` a line, with ``^^`` under byte ``offset``
    (:func:`wireproof.errors.hex_excerpt`: a window, however long the input).

    An offset at or past the end (truncated input) puts the caret just after
    the last byte.
    """
    return hex_excerpt(data, offset, width=width)


def pretty(value: Any, indent: int = 0) -> list[str]:
    """A message_fields() tree as indented ``name: value`` lines."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        if "type" in value and indent == 0:
            lines.append(str(value["type"]))
        for key, v in value.items():
            if key == "type":
                continue
            if isinstance(v, dict):
                lines.append(f"{pad}  {key}: {v.get('type', '')}".rstrip())
                lines.extend(pretty(v, indent + 1))
            elif isinstance(v, list) and any(isinstance(x, dict) for x in v):
                lines.append(f"{pad}  {key}:")
                for i, x in enumerate(v):
                    head = x.get("type", "") if isinstance(x, dict) else repr(x)
                    lines.append(f"{pad}    [{i}] {head}".rstrip())
                    if isinstance(x, dict):
                        lines.extend(pretty(x, indent + 2))
            else:
                lines.append(f"{pad}  {key}: {v!r}")
    return lines


def run(args: argparse.Namespace) -> int:
    from wireproof import codecs
    from wireproof.errors import DecodeError

    if args.name not in codecs.names():
        print(f"wireproof decode: error: no codec named {args.name!r}; known: {', '.join(codecs.names())}",
              file=sys.stderr)
        return 2
    try:
        data = parse_hex(args.hex)
    except ValueError as exc:
        print(f"wireproof decode: error: HEX: {exc}", file=sys.stderr)
        return 2
    try:
        codec = codecs.get(args.name)
    except (ImportError, AttributeError) as exc:  # a registered codec whose package is broken or absent
        print(f"wireproof decode: error: codec {args.name} cannot be loaded: {exc}", file=sys.stderr)
        return 1
    kwargs = {} if args.direction is None else {"direction": args.direction}
    if kwargs and args.direction not in codecs.directions(args.name):
        takes = codecs.directions(args.name)
        print(f"wireproof decode: error: codec {args.name} does not take --direction {args.direction}"
              + (f" (it takes: {', '.join(takes)})" if takes else ""), file=sys.stderr)
        return 2
    try:
        message = codec.decode(data, **kwargs)
    except DecodeError as exc:
        if args.json:
            print(json.dumps({"error": {"type": type(exc).__name__, "protocol": exc.protocol,
                                        "path": list(exc.path), "offset": exc.offset, "reason": exc.reason}},
                             indent=2))
        print(f"{type(exc).__name__}: {exc.protocol}", file=sys.stderr)
        print(f"  path:   {'.'.join(str(p) for p in exc.path) or '<root>'}", file=sys.stderr)
        print(f"  offset: {exc.offset}", file=sys.stderr)
        print(f"  reason: {exc.reason}", file=sys.stderr)
        for line in exc.excerpt(data):
            print("  " + line, file=sys.stderr)
        return 1
    try:
        fields = codecs.message_fields(message)
    except TypeError:
        fields = None
    if args.json:
        print(json.dumps(fields if fields is not None else repr(message), indent=2))
    else:
        print("\n".join(pretty(fields)) if fields is not None else repr(message))
    return 0

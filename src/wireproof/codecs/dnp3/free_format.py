"""DNP3 free-format objects, decoded into fields: file transfer (group 70), data sets (groups 86-88)
and secure authentication (group 120) (IEEE 1815-2012 Annex A.36, A.41-A.43, A.45; clause 7).

Theory of operation
-------------------
These objects travel behind a size prefix (qualifier 0x5B: a 1-octet count,
then each object with a 2-octet size, 4.3.3.4), so the object header layer
(:mod:`.objects`) already knows where each one ends. Inside, a layout is a
sequence of steps, each reading from the object's octets:

- a fixed field: ``B`` UINT8, ``H`` UINT16, ``I`` UINT32, ``T`` DNP3 time
  (UINT48, milliseconds since 1970-01-01 UTC), little-endian;
- ``("at", offset_field, size_field)``: a string whose offset (from the
  start of the object) and size are earlier fields (group 70 names). The
  offset must be where the string comes (right after the fixed fields
  or the previous string): the decoder does not skip octets it cannot
  explain;
- ``("len", length_field)``: octets whose length is an earlier field
  (group 120's challenge data, user names, keys);
- ``rest``: the octets to the end of the object (text, MAC values,
  file data);
- ``elements``: what is left, as a sequence of 1-octet-length-prefixed
  values (the data set elements of groups 87 and 88);
- ``descriptors``: data set descriptor elements (group 86 variation 1),
  each a length octet (counting what follows), the descriptor code, the
  data type code, the maximum data length and the ancillary octets.

A decoded object's values are the fields by name; offset, size and length
fields are left out (the octets say them again), and encoding computes
them. Every step is checked against the object's size: a field or string
that would run past the end, an offset elsewhere than where the string
comes, or octets left over, is a :class:`FreeFormatError` naming the
field and its offset in the object, which the object layer reports as a
:class:`~wireproof.errors.DecodeError` with the frame offset. A variation
not listed here is not in the library: its header stops with an error
(never a guess). Group 70 variation 1 (file identifier, obsolete since
IEEE 1815-2012) is kept as its octets (``value``).
"""

from __future__ import annotations

import struct
from typing import Any, Final

__all__ = ["FREE_LAYOUTS", "FreeFormatError", "decode_free", "encode_free", "known_free"]

Step = tuple[str, Any]

_B, _H, _I, _T = "B", "H", "I", "T"
_WIDTH: Final = {_B: 1, _H: 2, _I: 4, _T: 6}

# (group, variation) -> the layout's steps: (field name, code). Field names are the standard's words.
FREE_LAYOUTS: Final[dict[tuple[int, int], tuple[Step, ...]]] = {
    # A.36.2 authentication object
    (70, 2): (("username_offset", _H), ("username_size", _H), ("password_offset", _H), ("password_size", _H),
              ("authentication_key", _I), ("username", ("at", "username_offset", "username_size")),
              ("password", ("at", "password_offset", "password_size"))),
    # A.36.3 file command
    (70, 3): (("file_name_offset", _H), ("file_name_size", _H), ("created", _T), ("permissions", _H),
              ("authentication_key", _I), ("file_size", _I), ("operational_mode", _H),
              ("maximum_block_size", _H), ("request_id", _H),
              ("file_name", ("at", "file_name_offset", "file_name_size"))),
    # A.36.4 file command status
    (70, 4): (("file_handle", _I), ("file_size", _I), ("maximum_block_size", _H), ("request_id", _H),
              ("status_code", _B), ("optional_text", "rest")),
    # A.36.5 file transport (bit 31 of the block number marks the last block)
    (70, 5): (("file_handle", _I), ("block_number", _I), ("file_data", "rest")),
    # A.36.6 file transport status
    (70, 6): (("file_handle", _I), ("block_number", _I), ("status_code", _B), ("optional_text", "rest")),
    # A.36.7 file descriptor
    (70, 7): (("file_name_offset", _H), ("file_name_size", _H), ("file_type", _H), ("file_size", _I),
              ("created", _T), ("permissions", _H), ("request_id", _H),
              ("file_name", ("at", "file_name_offset", "file_name_size"))),
    # A.36.8 file specification string
    (70, 8): (("file_specification", "rest"),),
    # A.41.1 data set descriptor, contents; A.41.3 point index attributes
    (86, 1): (("dsid", _H), ("elements", "descriptors")),
    (86, 3): (("dsid", _H), ("elements", "elements")),
    # A.42.1 data set present value; A.43.1 data set snapshot (event)
    (87, 1): (("dsid", _H), ("time", _T), ("elements", "elements")),
    (88, 1): (("dsid", _H), ("time", _T), ("elements", "elements")),
    # A.45.1 challenge
    (120, 1): (("csq", _I), ("user", _H), ("mac_algorithm", _B), ("reason", _B), ("challenge_data", "rest")),
    # A.45.2 reply
    (120, 2): (("csq", _I), ("user", _H), ("mac", "rest")),
    # A.45.5 session key status
    (120, 5): (("ksq", _I), ("user", _H), ("key_wrap_algorithm", _B), ("key_status", _B),
               ("mac_algorithm", _B), ("challenge_data_length", _H),
               ("challenge_data", ("len", "challenge_data_length")), ("mac", "rest")),
    # A.45.6 session key change
    (120, 6): (("ksq", _I), ("user", _H), ("key_wrap_data", "rest")),
    # A.45.7 error
    (120, 7): (("csq", _I), ("user", _H), ("association_id", _H), ("error_code", _B), ("time_of_error", _T),
               ("error_text", "rest")),
    # A.45.8 user certificate
    (120, 8): (("key_change_method", _B), ("certificate_type", _B), ("certificate", "rest")),
    # A.45.9 MAC
    (120, 9): (("mac", "rest"),),
    # A.45.10 user status change
    (120, 10): (("key_change_method", _B), ("operation", _B), ("scs", _I), ("user_role", _H),
                ("user_role_expiry_interval", _H), ("username_length", _H), ("user_public_key_length", _H),
                ("certification_data_length", _H), ("username", ("len", "username_length")),
                ("user_public_key", ("len", "user_public_key_length")),
                ("certification_data", ("len", "certification_data_length"))),
    # A.45.11 update key change request
    (120, 11): (("key_change_method", _B), ("username_length", _H), ("master_challenge_data_length", _H),
                ("username", ("len", "username_length")),
                ("master_challenge_data", ("len", "master_challenge_data_length"))),
    # A.45.12 update key change reply
    (120, 12): (("ksq", _I), ("user", _H), ("outstation_challenge_data_length", _H),
                ("outstation_challenge_data", ("len", "outstation_challenge_data_length"))),
    # A.45.13 update key change
    (120, 13): (("ksq", _I), ("user", _H), ("encrypted_update_key_data_length", _H),
                ("encrypted_update_key_data", ("len", "encrypted_update_key_data_length"))),
    # A.45.14 update key change signature
    (120, 14): (("digital_signature", "rest"),),
    # A.45.15 update key change confirmation
    (120, 15): (("mac", "rest"),),
}
_RAW: Final = {(70, 1)}  # obsolete file identifier: octets
_DERIVED: Final = {layout: frozenset(
    name for _, code in steps if isinstance(code, tuple) for name in code[1:]) for layout, steps in
    FREE_LAYOUTS.items()}


class FreeFormatError(ValueError):
    """A free-format object whose octets do not fit its layout: the field and its offset in the object."""

    def __init__(self, field: str, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.field, self.offset, self.reason = field, offset, reason


def known_free(group: int, variation: int) -> bool:
    """Whether ``group``/``variation`` is a free-format object of the library."""
    return (group, variation) in FREE_LAYOUTS or (group, variation) in _RAW


def _clause(group: int, variation: int) -> str:
    annex = {70: "A.36", 86: "A.41", 87: "A.42", 88: "A.43", 120: "A.45"}[group]
    return f"IEEE 1815-2012 {annex}.{variation}"


def _lead(steps: tuple[Step, ...]) -> tuple[struct.Struct, tuple[tuple[str, bool], ...], int]:
    """The layout's leading fixed fields as one ``struct`` (a time as two words), their (name, a
    time?) pairs, and how many steps they are."""
    fmt, names = "<", []
    for name, code in steps:
        if not (isinstance(code, str) and code in _WIDTH):
            break
        fmt += {"B": "B", "H": "H", "I": "I", "T": "IH"}[code]
        names.append((name, code == _T))
    return struct.Struct(fmt), tuple(names), len(names)


_LEADS: Final = {layout: _lead(steps) for layout, steps in FREE_LAYOUTS.items()}


def decode_free(group: int, variation: int, octets: bytes) -> dict[str, Any]:
    """The fields of one free-format object (its octets, without the size prefix)."""
    if (group, variation) in _RAW:
        return {"value": bytes(octets)}
    steps = FREE_LAYOUTS[(group, variation)]
    n = len(octets)
    pos = 0
    fields: dict[str, Any] = {}
    lead, names, count = _LEADS[(group, variation)]
    if n >= lead.size:  # the leading fixed fields in one unpack (else the steps say which is cut)
        raw = lead.unpack_from(octets)
        k = 0
        for name, timed in names:
            if timed:
                fields[name] = raw[k] | raw[k + 1] << 32
                k += 2
            else:
                fields[name] = raw[k]
                k += 1
        pos = lead.size
        steps = steps[count:]
    for name, code in steps:
        if isinstance(code, str) and code in _WIDTH:
            width = _WIDTH[code]
            if n - pos < width:
                raise FreeFormatError(name, pos, f"g{group}v{variation} {name}: {width} octets needed, "
                                      f"{n - pos} left in the object ({_clause(group, variation)})")
            fields[name] = int.from_bytes(octets[pos:pos + width], "little")
            pos += width
        elif code == "rest":
            fields[name] = bytes(octets[pos:])
            pos = n
        elif code == "elements":
            elements = []
            while pos < n:
                size = octets[pos]
                if n - pos - 1 < size:
                    raise FreeFormatError(name, pos, f"g{group}v{variation} element of {size} octets, "
                                          f"{n - pos - 1} left in the object ({_clause(group, variation)})")
                elements.append(bytes(octets[pos + 1:pos + 1 + size]))
                pos += 1 + size
            fields[name] = tuple(elements)
        elif code == "descriptors":
            descriptors = []
            while pos < n:
                size = octets[pos]
                if size < 3 or n - pos - 1 < size:
                    raise FreeFormatError(name, pos, f"g{group}v{variation} descriptor element of length "
                                          f"{size}: at least 3 and at most {n - pos - 1} "
                                          f"({_clause(group, variation)})")
                descriptors.append((octets[pos + 1], octets[pos + 2], octets[pos + 3],
                                    bytes(octets[pos + 4:pos + 1 + size])))
                pos += 1 + size
            fields[name] = tuple(descriptors)
        else:
            kind = code[0]
            if kind == "at":
                offset, size = fields[code[1]], fields[code[2]]
                if offset != pos:
                    raise FreeFormatError(code[1], pos, f"g{group}v{variation} {code[1]} is {offset}; {name} "
                                          f"comes at octet {pos} of the object ({_clause(group, variation)})")
            else:
                size = fields[code[1]]
            if n - pos < size:
                raise FreeFormatError(name, pos, f"g{group}v{variation} {name} of {size} octets, {n - pos} "
                                      f"left in the object ({_clause(group, variation)})")
            fields[name] = bytes(octets[pos:pos + size])
            pos += size
    if pos != n:
        raise FreeFormatError("size", pos, f"g{group}v{variation}: {n - pos} octets after the last field "
                              f"({_clause(group, variation)})")
    derived = _DERIVED[(group, variation)]
    return {k: v for k, v in fields.items() if k not in derived}


def encode_free(group: int, variation: int, values: dict[str, Any]) -> bytes:
    """The octets of one free-format object from its fields (offsets, sizes and lengths computed).

    ``ValueError`` (or ``KeyError`` for a missing field) when the values do not fit the layout.
    """
    if (group, variation) in _RAW:
        return bytes(values["value"])
    steps = FREE_LAYOUTS[(group, variation)]
    derived: dict[str, int] = {}
    fixed = sum(_WIDTH[code] for _, code in steps if isinstance(code, str) and code in _WIDTH)
    at = fixed
    for name, code in steps:  # the offsets, sizes and lengths the octets will carry
        if isinstance(code, tuple):
            octets = bytes(values[name])
            if code[0] == "at":
                derived[code[1]], derived[code[2]] = at, len(octets)
                at += len(octets)
            else:
                derived[code[1]] = len(octets)
    out = bytearray()
    for name, code in steps:
        if isinstance(code, str) and code in _WIDTH:
            value = derived[name] if name in derived else int(values[name])
            out += value.to_bytes(_WIDTH[code], "little")  # OverflowError (a ValueError kin) if too big
        elif code == "elements":
            for element in values[name]:
                element = bytes(element)
                if len(element) > 255:
                    raise ValueError(f"{name}: an element of {len(element)} octets (at most 255)")
                out += bytes((len(element),)) + element
        elif code == "descriptors":
            for code_, data_type, maximum, ancillary in values[name]:
                ancillary = bytes(ancillary)
                if len(ancillary) > 252:
                    raise ValueError(f"{name}: ancillary element of {len(ancillary)} octets (at most 252)")
                out += bytes((3 + len(ancillary), code_, data_type, maximum)) + ancillary
        else:
            out += bytes(values[name])
    if len(out) > 0xFFFF:
        raise ValueError(f"g{group}v{variation}: {len(out)} octets do not fit a 2-octet size prefix")
    return bytes(out)

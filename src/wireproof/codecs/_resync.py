"""Resynchronisation and oversized messages on a byte stream: the protocol-neutral rules (pure).

Theory of operation
-------------------
A byte-stream protocol delimits its messages by a length field in a header.
Two things throw a passive reader out of step, and this module holds the
rules for both, so that each protocol supplies only its header test.

**Lost position.** After a TCP gap (bytes the capture lost) or on a flow
whose capture starts mid-stream, the reader no longer knows where a
message starts. The replay engine (:mod:`wireproof.harness.replay.engine`)
drives the recovery for every analyzer that offers
``plausible_header(from_client, data) -> bool`` (:class:`Resyncable`): it
marks the direction *lost* (after calling the analyzer's ``on_gap``, or from
the start when the capture did not see the handshake), hands the analyzer no
bytes while lost, and resumes at the first segment whose first bytes the
analyzer calls a plausible header — a segment boundary is where a sender
most often starts a message, and where tshark resumes too. The bytes of the
segments it skipped make one finding for the lost span when decoding
resumes (or when the flow ends still lost). An analyzer without
``plausible_header`` gets the bytes as they come and resynchronises itself.

**Oversized but consistent.** A length beyond the standard's maximum is
usually garbage, and a reader that trusts it swallows the messages that
follow. Vendor extensions send such lengths on purpose (Modbus function code
90, Schneider's UMAS, carries MBAP lengths above 254). The rule that tells
the two apart, :func:`consistent_end`: a header whose length exceeds the
maximum, but whose other fields pass the protocol's test, is believed — the
message is framed by its length — when the bytes confirm where that length
says the message ends:

1. it ends exactly where a segment ends (a sender writes a message at a
   time, so segments end on message boundaries), or
2. it ends exactly where another plausible header starts;

and the length is within the framer's buffer bound (nothing is allocated
on the word of a length alone). While the bytes that decide have not come,
the answer is "undecided" (the framer waits; the bound caps the wait),
except that (3) a message that a segment end cuts short must not swallow a
plausible header in the bytes already seen: if one starts there, the
length is garbage after all (the protocol's framer looks for it). A
garbage length lands on a segment end or a plausible header only by chance;
one that does not is treated as before (a framing error, then resync). The
analyzer reports the first oversized message of a flow, once per flow, and
decodes it by its length (a vendor function code as an opaque PDU with its
bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["HeaderTest", "Resyncable", "consistent_end"]

HeaderTest = Callable[[bytes | bytearray, int], bool]  # (buffer, offset) -> a header may start there


class Resyncable(Protocol):
    """An analyzer whose lost stream position the engine recovers (module docstring)."""

    def plausible_header(self, from_client: bool, data: bytes) -> bool:
        """Whether a segment whose bytes are ``data`` starts with a message header of the protocol."""


def consistent_end(buf: bytes | bytearray, end: int, *, segment_end: bool, header: int,
                   plausible: HeaderTest) -> bool | None:
    """Whether a message that ends at offset ``end`` of ``buf`` ends where the bytes confirm it.

    True when ``buf`` ends exactly at ``end`` and a segment ended there
    (``segment_end``: ``buf`` ends where the last segment fed ended), or when
    ``plausible(buf, end)`` (another header starts there); False when at
    least ``header`` bytes follow ``end`` and they are not a plausible header;
    None (undecided: wait for more bytes) otherwise.
    """
    n = len(buf)
    if n < end:
        return None
    if n == end:
        return True if segment_end else None
    if n - end < header:
        return None
    return plausible(buf, end)

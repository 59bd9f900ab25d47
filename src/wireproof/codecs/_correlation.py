"""Request/answer correlation: what ``replay --send`` needs to know of a protocol (pure).

Theory of operation
-------------------
``wireproof replay FILE --send URL`` turns a capture into a regression test:
the client side of each recorded flow is sent to a live device and each
answer is compared with the recorded one (:mod:`wireproof.harness.replay.send`).
That engine names no protocol; a protocol that supports it gives, through
its descriptor (``AnalyzerEntry.correlation``), a factory of a
:class:`Correlation`:

- ``framer()``: a fresh framer for one direction of the byte stream;
- ``request_key(frame)`` / ``answer_key(frame)``: the key an answer copies
  from its request (a Modbus/TCP transaction id), by which the pairing
  machine (:mod:`wireproof.codecs._pairing`) pairs them;
- ``first_key()``, ``following(key)``, ``rekey(frame, key)``: requests are
  sent re-keyed, 1, 2, 3, ... per connection (a recorded key may repeat, and
  a device must not pass by echoing keys it saw in some other session);
- ``answer_fields(frame)``: an answer as plain data to compare field by
  field, the key left out (None when it does not decode), and
  ``without_key(frame)``: its bytes to compare when it does not;
- ``describe(frame)``: a request in one line, for the report.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Protocol

from wireproof.codecs._core import Framer

__all__ = ["Correlation"]


class Correlation(Protocol):
    """How a protocol's requests and answers correlate (see the module docstring)."""

    protocol: str
    key_name: str  # "transaction id"

    def framer(self) -> Framer: ...

    def request_key(self, frame: bytes) -> Hashable: ...

    def answer_key(self, frame: bytes) -> Hashable: ...

    def first_key(self) -> Hashable: ...

    def following(self, key: Any) -> Hashable: ...

    def rekey(self, frame: bytes, key: Any) -> bytes: ...

    def answer_fields(self, frame: bytes) -> dict[str, Any] | None: ...

    def without_key(self, frame: bytes) -> bytes: ...

    def describe(self, frame: bytes) -> str: ...

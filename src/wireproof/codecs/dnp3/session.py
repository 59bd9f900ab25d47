"""One master's connection to an outstation, all layers stacked (sans-I/O): bytes in, bytes out.

Theory of operation
-------------------
:class:`OutstationSession` is what a driver serves per TCP connection (or per
UDP peer): a :class:`~.framers.LinkFramer` (FT3 frames out of the byte
stream, 9.2.4), a :class:`~.link_machine.LinkLayer` (the secondary station
answering link services, the primary station sending our user data,
9.2.6), a transport :class:`~.transport.Reassembler` (8.2) and an
:class:`~.outstation.Outstation` (clause 4) on the shared database.

It never reads a clock: :meth:`tick` tells it the time (the driver calls it
before feeding bytes, when :attr:`next_deadline` comes, and when the
database changed), and :meth:`receive_data` uses the time of the last tick.
Everything it wants sent comes back as ``replies`` (octets of whole link
frames). Bad input never stops it: a frame that fails its CRCs or does not
decode is dropped and counted (9.2.4.1.5, 9.2.4.2: a station discards a frame
with a CRC error), its octets count as ``garbage`` until the next good frame,
so a driver can shed a client that sends only noise.

Outgoing fragments are cut into transport segments (8.2.1) numbered by one
counter per session and sent as UNCONFIRMED_USER_DATA by default, as
opendnp3 does (``link_confirmed`` sends CONFIRMED_USER_DATA, resetting the
link first, 9.2.6.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.dnp3.database import Database
from wireproof.codecs.dnp3.framers import LinkFramer
from wireproof.codecs.dnp3.link import decode_link, encode_link
from wireproof.codecs.dnp3.link_machine import LinkLayer, LinkOutput
from wireproof.codecs.dnp3.outstation import AppOutput, Effect, Outstation, OutstationConfig
from wireproof.codecs.dnp3.transport import Reassembler, segment
from wireproof.errors import DecodeError

__all__ = ["SessionOutput", "OutstationSession"]


@dataclass(slots=True)
class SessionOutput:
    """What the driver must do: send ``replies``; ``close`` the connection; what the device did."""

    replies: list[bytes] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    close: bool = False
    frames: int = 0  # whole link frames taken
    more: bool = False  # frames left in the buffer (call again with b"")
    errors: list[str] = field(default_factory=list)


class OutstationSession:
    """Link + transport + application for one master (module docstring)."""

    def __init__(self, database: Database, config: OutstationConfig | None = None, *, address: int = 10,
                 master: int = 1, now: float = 0.0, link_confirmed: bool = False, link_timeout: float = 2.0,
                 link_retries: int = 2, max_buffer: int = 64 * 1024) -> None:
        self.app = Outstation(database, config, now=now)
        self.link = LinkLayer(address, master, confirmed=link_confirmed, response_timeout=link_timeout,
                              retries=link_retries)
        self.framer = LinkFramer(max_buffer=max_buffer)
        self.transport = Reassembler(max_fragment=max(2048, self.app.config.max_fragment_size))
        self.now = now
        self.garbage = 0
        self.errors = 0  # frames and segments dropped
        self._tseq = 0

    @property
    def buffered(self) -> int:
        return self.framer.buffered

    @property
    def next_deadline(self) -> float | None:
        times = [t for t in (self.app.next_deadline, self.link.next_deadline) if t is not None]
        return min(times) if times else None

    def close(self) -> None:
        self.app.close()

    def tick(self, now: float) -> SessionOutput:
        self.now = max(self.now, now)
        out = SessionOutput()
        self._link(self.link.tick(self.now), out)
        self._app(self.app.tick(self.now), out)
        return out

    def receive_data(self, data: bytes, *, max_frames: int | None = None) -> SessionOutput:
        out = SessionOutput()
        if data:
            try:
                self.framer.feed(data)
            except DecodeError as err:  # more than the framer may hold: this peer cannot be framed
                out.errors.append(str(err))
                out.close = True
                return out
        while max_frames is None or out.frames < max_frames:
            try:
                raw = self.framer.next_frame()
            except DecodeError as err:  # 9.2.4.1: resynchronise on the next start octets
                self.garbage += max(2, self.framer.discarded_count)
                self.errors += 1
                out.errors.append(str(err))
                continue
            if raw is NEED_DATA:
                break
            out.frames += 1
            try:
                frame = decode_link(bytes(raw))
            except DecodeError as err:  # a block CRC or an undefined function code: the frame is dropped
                self.garbage += len(raw)
                self.errors += 1
                out.errors.append(str(err))
                continue
            self.garbage = 0
            self._link(self.link.receive(frame, self.now), out)
        else:
            out.more = True
        self._app(self.app.tick(self.now), out)
        return out

    def _link(self, result: LinkOutput, out: SessionOutput) -> None:
        for frame in result.frames:
            out.replies.append(encode_link(frame))
        for data, broadcast in result.delivered:
            if not data:
                continue
            try:
                fragment = self.transport.feed(data)
            except DecodeError as err:  # 8.2.2: out of sequence or too large: dropped
                self.errors += 1
                out.errors.append(str(err))
                continue
            if fragment is not None:
                self._app(self.app.receive(fragment, self.now, broadcast=broadcast), out)

    def _app(self, result: AppOutput, out: SessionOutput) -> None:
        out.effects.extend(result.effects)
        for fragment in result.fragments:
            segments = segment(fragment, seq=self._tseq)
            self._tseq = (self._tseq + len(segments)) % 64
            for piece in segments:
                self._link(self.link.send(piece, self.now), out)

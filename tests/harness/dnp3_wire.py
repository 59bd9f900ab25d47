"""A blocking DNP3 test master over a real socket (TCP or UDP): requests out, responses in.

Shared by the simulator tests and the hostile tier. It is deliberately
plain — link UNCONFIRMED_USER_DATA, one segment a request — so that what it
checks is the outstation, not a second machine. Every read has a socket
timeout: a hang fails the test.
"""

from __future__ import annotations

import socket

from wireproof.codecs import NEED_DATA
from wireproof.codecs.dnp3.application import decode_fragment, encode_fragment
from wireproof.codecs.dnp3.constants import FunctionCode, PrimaryFunction
from wireproof.codecs.dnp3.framers import LinkFramer
from wireproof.codecs.dnp3.link import decode_link, encode_link
from wireproof.codecs.dnp3.messages import ApplicationRequest, ApplicationResponse, LinkFrame, ObjectHeader
from wireproof.codecs.dnp3.transport import Reassembler, segment

TIMEOUT = 5.0


def link_frame(user_data: bytes = b"", function: PrimaryFunction = PrimaryFunction.UNCONFIRMED_USER_DATA, *,
               destination: int = 10, source: int = 1, fcb: bool = False, fcv: bool = False) -> bytes:
    return encode_link(LinkFrame(dir=True, prm=True, fcb=fcb, fcv=fcv, function=function,
                                 destination=destination, source=source, user_data=user_data))


def request_bytes(request: ApplicationRequest, *, tseq: int = 0, destination: int = 10) -> bytes:
    return b"".join(link_frame(piece, destination=destination)
                    for piece in segment(encode_fragment(request), seq=tseq))


def integrity(seq: int = 0) -> ApplicationRequest:
    return ApplicationRequest(seq=seq, objects=tuple(ObjectHeader(group=60, variation=v, qualifier=0x06)
                                                     for v in (2, 3, 4, 1)))


class Master:
    """One master connection; ``ask`` sends a request and returns its (first) response."""

    def __init__(self, address: tuple[str, int], *, udp: bool = False) -> None:
        self.udp = udp
        if udp:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.connect(address)
        else:
            self.sock = socket.create_connection(address, timeout=TIMEOUT)
        self.sock.settimeout(TIMEOUT)
        self.framer = LinkFramer()
        self.transport = Reassembler()
        self.links: list[LinkFrame] = []  # link-service answers (PRM=0) met while reading fragments
        self.frames: list[LinkFrame] = []
        self.received: list[bytes] = []  # every link frame as it came, for a dissector
        self.unsolicited: list[ApplicationResponse] = []
        self.tseq = 0
        self.seq = 0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data) if not self.udp else self.sock.send(data)

    def request(self, request: ApplicationRequest) -> None:
        pieces = segment(encode_fragment(request), seq=self.tseq)
        self.tseq = (self.tseq + len(pieces)) % 64
        for piece in pieces:
            self.send(link_frame(piece))

    def ask(self, request: ApplicationRequest, *, confirm: bool = True) -> ApplicationResponse:
        self.request(request)
        return self.response(confirm=confirm)

    def ask_all(self, request: ApplicationRequest) -> list[ApplicationResponse]:
        """Every fragment of the response, each confirmed as it asks (4.5.1), to the one with FIN."""
        self.request(request)
        out = [self.response()]
        while not out[-1].fin:
            out.append(self.response())
        return out

    def response(self, *, confirm: bool = True, unsolicited: bool = False) -> ApplicationResponse:
        """The next solicited (or, with ``unsolicited``, unsolicited) response; confirms it if it asks."""
        while True:
            fragment = self.fragment()
            if fragment.uns and not unsolicited:
                self.unsolicited.append(fragment)
                continue
            if confirm and fragment.con:
                self.confirm(fragment)
            return fragment

    def confirm(self, fragment: ApplicationResponse) -> None:
        self.request(ApplicationRequest(seq=fragment.seq, uns=fragment.uns, function=FunctionCode.CONFIRM))

    def link_answer(self) -> LinkFrame:
        """The next link-service answer (PRM=0); frames with data stay queued for :meth:`fragment`."""
        if self.links:
            return self.links.pop(0)
        while True:
            for i, frame in enumerate(self.frames):
                if not frame.prm:
                    del self.frames[i]
                    return frame
            self._read()

    def fragment(self) -> ApplicationResponse:
        while True:
            frame = self._next_frame()
            if not frame.prm:
                self.links.append(frame)
                continue
            done = self.transport.feed(frame.user_data)
            if done is not None:
                fragment = decode_fragment(done)
                assert isinstance(fragment, ApplicationResponse)
                return fragment

    def _next_frame(self) -> LinkFrame:
        while not self.frames:
            self._read()
        return self.frames.pop(0)

    def _read(self) -> None:
        data = self.sock.recv(65536)
        assert data, "the outstation closed the connection"
        self.framer.feed(data)
        while (raw := self.framer.next_frame()) is not NEED_DATA:
            assert isinstance(raw, bytes)
            self.received.append(raw)
            frame = decode_link(raw)
            assert (frame.source, frame.destination, frame.dir) == (10, 1, False), frame
            self.frames.append(frame)

    def close(self) -> None:
        self.sock.close()


class LinkTrace:
    """The link frames each way, decoded from a MasterSession ``on_wire`` trace (``"tx"``/``"rx"``)."""

    def __init__(self) -> None:
        self.framers = {"tx": LinkFramer(), "rx": LinkFramer()}
        self.frames: dict[str, list[LinkFrame]] = {"tx": [], "rx": []}

    def __call__(self, way: str, data: bytes) -> None:
        framer = self.framers[way]
        framer.feed(data)
        while (raw := framer.next_frame()) is not NEED_DATA:
            self.frames[way].append(decode_link(bytes(raw)))

    def primary(self, way: str, function: PrimaryFunction) -> list[LinkFrame]:
        """The primary frames (PRM=1) of ``function`` sent (``tx``) or received (``rx``)."""
        return [f for f in self.frames[way] if f.prm and f.function == function]

    def answers(self, way: str) -> list[int]:
        """The secondary function codes (ACK, NACK, LINK_STATUS...) sent or received, in order."""
        return [int(f.function) for f in self.frames[way] if not f.prm]

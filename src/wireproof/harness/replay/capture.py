"""Open any supported capture and stream its frames: format detection and the reader object.

Formats, by content first and file name second:

- ``pcap``: the four classic magics (micro/nanosecond, either byte order);
- ``pcapng``: a Section Header Block first (0x0A0D0D0A);
- ``blf``: Vector BLF (``LOGG`` magic), read by python-can;
- ``asc`` / ``trc``: Vector ASC and PEAK TRC text logs (by suffix), read by python-can;
- ``candump``: can-utils text logs (``-L`` or default format; see :mod:`.candump`).

Theory of operation: :func:`iter_capture` checks the file and decides its
format at once (so a wrong file is a :class:`~wireproof.errors.FixtureError`
before anything is read); iterating the returned :class:`CaptureReader`
opens the file and streams :class:`~.events.Frame` values, keeping
``bytes_read`` current for a progress bar; :meth:`CaptureReader.records`
streams the same frames as plain tuples (:data:`~.events.Record`), which is
what the readers produce and what the replay engine's hot loop takes. Memory is flat: readers hold one
chunk of the file at a time.

Damaged files (:mod:`.damage`, one policy for every format): every record
before the damage is yielded; then with ``on_damage="raise"`` (the default,
for fixtures that must be clean) the :class:`~.damage.CaptureDamaged` error
says where and how the file is damaged, with ``on_damage="stop"`` (what
replay uses) iteration just ends and :attr:`CaptureReader.damage` holds the
:class:`~.damage.Damage` for the caller to report. ``on_truncation`` is the
former name of ``on_damage`` (it now covers every kind of damage, not only a
cut); :attr:`CaptureReader.truncation` is the damage's sentence.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from wireproof.errors import FixtureError
from wireproof.harness.replay.candump import looks_like_candump, read_candump, read_python_can
from wireproof.harness.replay.damage import CaptureDamaged, Damage
from wireproof.harness.replay.events import Frame, Record, new_frame
from wireproof.harness.replay.pcap import PCAP_MAGICS, PCAPNG_MAGIC, read_pcap, read_pcapng

__all__ = ["FORMATS", "CaptureReader", "detect_format", "iter_capture"]

OnDamage = Literal["raise", "stop"]
Format = Literal["pcap", "pcapng", "candump", "blf", "asc", "trc"]
FORMATS: tuple[Format, ...] = ("pcap", "pcapng", "candump", "blf", "asc", "trc")
_PYTHON_CAN = ("blf", "asc", "trc")


def detect_format(head: bytes, path: Path) -> Format:
    """The format of a file from its first bytes (and, for ASC/TRC, its suffix)."""
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_MAGIC:
        return "pcapng"
    if head[:4] == b"LOGG":
        return "blf"
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("asc", "trc"):
        return "asc" if suffix == "asc" else "trc"
    if looks_like_candump(head):
        return "candump"
    raise FixtureError(f"{path}: not a capture wireproof reads (pcap, pcapng, candump, ASC, BLF, TRC); "
                       f"first bytes {head[:8].hex()}")


class CaptureReader:
    """An iterable of the frames of one capture file (see the module docstring).

    ``format``, ``size`` (bytes) and ``bytes_read`` (so far) are for progress
    reporting; ``interface_names`` lists the interfaces in the order of their
    :attr:`Frame.interface <.events.Frame.interface>` numbers as the reader
    meets them (pcapng if_name or ``if<n>``, candump interface names).
    """

    def __init__(self, path: str | Path, *, on_damage: OnDamage | None = None,
                 on_truncation: OnDamage | None = None) -> None:
        self.path = Path(path)
        try:
            self.size = self.path.stat().st_size
            with self.path.open("rb") as f:
                head = f.read(4096)
        except OSError as exc:
            raise FixtureError(f"{self.path}: cannot read capture: {exc}") from exc
        if not head:
            raise FixtureError(f"{self.path}: empty file, not a capture")
        self.format: Format = detect_format(head, self.path)
        self.on_damage: OnDamage = on_damage or on_truncation or "raise"
        self.bytes_read = 0
        self.damage: Damage | None = None
        self.interface_names: list[str] = []

    @property
    def truncation(self) -> str | None:
        """Why the frames end before the file does (the damage, in one sentence), or None."""
        return None if self.damage is None else f"{self.path}: {self.damage.describe()}"

    def __iter__(self) -> Iterator[Frame]:
        make = new_frame
        for record in self.records():
            yield make(*record)

    def records(self) -> Iterator[Record]:
        """The frames as :data:`~.events.Record` tuples (what :meth:`__iter__` wraps)."""
        self.bytes_read = 0
        self.damage = None
        self.interface_names.clear()
        try:
            if self.format in _PYTHON_CAN:
                yield from read_python_can(self)
                return
            try:
                f = self.path.open("rb")
            except OSError as exc:
                raise FixtureError(f"{self.path}: cannot read capture: {exc}") from exc
            with f:
                if self.format == "pcap":
                    yield from read_pcap(self, f)
                elif self.format == "pcapng":
                    yield from read_pcapng(self, f)
                else:
                    yield from read_candump(self, f)
        except CaptureDamaged as exc:
            if self.on_damage == "raise":
                raise
            self.damage = exc.damage


def iter_capture(path: str | Path, *, on_damage: OnDamage | None = None,
                 on_truncation: OnDamage | None = None) -> CaptureReader:
    """The frames of the capture at ``path``, streamed; :class:`FixtureError` if it is not one.

    ``on_damage`` (formerly ``on_truncation``): see the module docstring.
    """
    return CaptureReader(path, on_damage=on_damage, on_truncation=on_truncation)

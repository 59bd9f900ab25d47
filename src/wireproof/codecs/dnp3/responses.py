"""DNP3 response building (pure): object headers from points and events, packed into fragments.

Normative reference: IEEE 1815-2012 4.2.1 (fragment size), 4.3.3-4.3.4
(object headers, qualifiers), 5.1.3 (events reported oldest first).

A :class:`Block` is one object header of a response and the events it
reports; :func:`static_blocks` and :func:`event_blocks` make them from the
database, :func:`pack` puts them into :class:`OutFragment` s of at most
``max_fragment_size`` octets, cutting a header in two (:func:`halves`)
when it does not fit. The outstation (:mod:`.outstation`) decides what
goes in a response; this module only lays it out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from wireproof.codecs.dnp3.constants import FunctionCode
from wireproof.codecs.dnp3.database import KINDS, Database, Event, flags_of, values_for
from wireproof.codecs.dnp3.library import lookup
from wireproof.codecs.dnp3.messages import ObjectHeader, Point
from wireproof.codecs.dnp3.objects import encode_objects
from wireproof.errors import EncodeError

__all__ = ["HEAD", "Block", "OutFragment", "event_blocks", "halves", "pack", "range_qualifier",
           "static_blocks"]

PROTOCOL: Final = "dnp3-app"
HEAD: Final = 4  # control, function, IIN1, IIN2


@dataclass(slots=True)
class Block:
    """One object header of a response and the events it reports (same order as its points)."""

    header: ObjectHeader
    events: tuple[Event, ...] = ()
    size: int = 0


@dataclass(slots=True)
class OutFragment:
    """A response fragment to be: its blocks, control bits, sequence, the request's IIN2 bits."""

    blocks: list[Block]
    fir: bool
    fin: bool
    seq: int
    function: FunctionCode = FunctionCode.RESPONSE
    iin_extra: int = 0  # IIN2.0-2.2 of the request it answers

    @property
    def events(self) -> list[Event]:
        return [e for b in self.blocks for e in b.events]

    @property
    def con(self) -> bool:
        return self.function is FunctionCode.UNSOLICITED_RESPONSE or not self.fin or bool(self.events)



def pack(blocks: list[Block], *, max_fragment_size: int, seq: int, iin_extra: int = 0) -> list[OutFragment]:
    """Blocks into fragments of at most ``max_fragment_size`` octets (a header too big is split)."""
    room = max_fragment_size - HEAD
    pages: list[list[Block]] = [[]]
    used = 0
    todo = list(reversed(blocks))
    while todo:
        block = todo.pop()
        block.size = len(encode_objects(PROTOCOL, (block.header,), values=True))
        if used + block.size <= room:
            pages[-1].append(block)
            used += block.size
            continue
        if len(block.header.points) > 1 and (block.size > room or room - used > room // 4):
            first, second = halves(block)
            todo += [second, first]
            continue
        if not pages[-1]:
            raise EncodeError(PROTOCOL, ("objects",), f"one object of {block.size} octets does not fit "
                              f"a {max_fragment_size}-octet fragment")
        pages.append([])
        used = 0
        todo.append(block)
    out = []
    for i, page in enumerate(pages):
        out.append(OutFragment(page, fir=i == 0, fin=i == len(pages) - 1, seq=(seq + i) % 16,
                               iin_extra=iin_extra))
    return out


def static_blocks(db: Database, kind: str, variation: int, indexes: list[int], *,
                  ranged: bool) -> list[Block]:
    """Static objects of ``kind`` at ``indexes`` in ``variation`` (0: the default): one range header
    when they are contiguous and ``ranged``, else index-prefixed (4.3.4). LookupError: no such
    variation."""
    group = KINDS[kind][0]
    points = db.points.get(kind, [])
    if not indexes:
        return []
    var = variation or db.variation(kind)
    if kind == "octet_string":
        return [Block(ObjectHeader(group=group, variation=len(points[i].value), qualifier=range_qualifier(i),
                                    start=i, stop=i, points=(Point(index=i, values={
                                        "value": points[i].value}),))) for i in indexes]
    spec = lookup(group, var)
    if spec is None:
        raise LookupError((group, var))
    rendered = [Point(index=i, values=values_for(kind, group, var, value=points[i].value,
                                                 flags=flags_of(kind, points[i]), time=points[i].time))
                for i in indexes]
    contiguous = ranged and indexes == list(range(indexes[0], indexes[-1] + 1))
    if contiguous:
        return [Block(ObjectHeader(group=group, variation=var, qualifier=range_qualifier(indexes[-1]),
                                    start=indexes[0], stop=indexes[-1], points=tuple(rendered)))]
    if spec.bits:  # packed objects take no prefix (4.3.4.3): one range header an index
        return [Block(ObjectHeader(group=group, variation=var, qualifier=range_qualifier(p.index or 0),
                                    start=p.index, stop=p.index, points=(p,))) for p in rendered]
    q = 0x17 if max(indexes) <= 0xFF and len(indexes) <= 0xFF else 0x28
    return [Block(ObjectHeader(group=group, variation=var, qualifier=q, count=len(rendered),
                                points=tuple(rendered)))]

def event_blocks(db: Database, events: list[Event], *, variation: int = 0) -> list[Block]:
    """Events oldest first, one header per run of one group/variation, index-prefixed (0x28)."""
    blocks: list[Block] = []
    for e in sorted(events, key=lambda e: e.serial):
        group = KINDS[e.kind][2]
        if e.kind == "octet_string":
            var = len(e.value)
            values: dict[str, Any] = {"value": bytes(e.value)}
        else:
            var = variation or db.variation(e.kind, event=True)
            values = values_for(e.kind, group, var, value=e.value, flags=e.flags, time=e.time)
        point = Point(index=e.index, values=values)
        last = blocks[-1] if blocks else None
        if last is not None and (last.header.group, last.header.variation) == (group, var) \
                and last.header.count is not None and last.header.count < 0xFFFF:
            last.header = replace(last.header, count=last.header.count + 1,
                                  points=(*last.header.points, point))
            last.events = (*last.events, e)
        else:
            blocks.append(Block(ObjectHeader(group=group, variation=var, qualifier=0x28, count=1,
                                              points=(point,)), (e,)))
    return blocks


def range_qualifier(stop: int) -> int:
    """0x00 (1-octet start/stop) when ``stop`` fits an octet, else 0x01 (4.3.3.4.2)."""
    return 0x00 if stop <= 0xFF else 0x01


def halves(block: Block) -> tuple[Block, Block]:
    """A block cut in two (its points and their events), each with its own range or count."""
    h = block.header
    m = len(h.points) // 2
    a, b = h.points[:m], h.points[m:]
    ea, eb = block.events[:m], block.events[m:]
    if h.start is not None:
        return (Block(replace(h, stop=h.start + m - 1, points=a), ea),
                Block(replace(h, start=h.start + m, points=b), eb))
    return Block(replace(h, count=m, points=a), ea), Block(replace(h, count=len(b), points=b), eb)

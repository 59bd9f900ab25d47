"""The Construct definitions build as well as parse: the hand-written encoders against them.

- every vector (link frames and application fragments) re-encoded by the fast path equals what the
  Construct definitions build from the same message;
- the same for every fragment and link frame the Hypothesis strategies build (all qualifiers, the
  whole object library, free-format objects with their offsets, sizes and lengths computed);
- a link frame's and a fragment's ``encode_declarative`` on the codecs; and messages that cannot be
  encoded are refused by both (EncodeError).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from tests.codecs.dnp3.strategies import fragments, link_frame

from wireproof.codecs import get
from wireproof.codecs.dnp3 import (
    ApplicationRequest,
    FunctionCode,
    LinkFrame,
    ObjectHeader,
    Point,
    PrimaryFunction,
    encode_fragment,
    encode_link,
)
from wireproof.codecs.dnp3.formats import encode_link_declarative
from wireproof.codecs.dnp3.library_formats import encode_fragment_declarative
from wireproof.codecs.vectors import Vector
from wireproof.errors import EncodeError
from wireproof.harness.fixtures import load_vectors, vector_files
from wireproof.protocol import REGISTRY

VECTORS = [v for f in vector_files(REGISTRY.descriptor("dnp3")) for v in load_vectors(f)
           if v.error is None and v.reencode]


@pytest.mark.parametrize("vec", VECTORS, ids=lambda v: v.id)
def test_every_vector_builds_the_same_octets(vec: Vector) -> None:
    codec = get(vec.codec)
    message = codec.decode(vec.data)
    fast = codec.encode(message)
    assert codec.encode_declarative(message) == fast == vec.data  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(fragments)
def test_fragment_encoders_agree(fragment: ApplicationRequest) -> None:
    assert encode_fragment_declarative(fragment) == encode_fragment(fragment)


@settings(max_examples=300, deadline=None)
@given(link_frame())
def test_link_encoders_agree(frame: LinkFrame) -> None:
    assert encode_link_declarative(frame) == encode_link(frame)


BAD_FRAMES = [
    LinkFrame(dir=True, prm=True, function=PrimaryFunction.UNCONFIRMED_USER_DATA, destination=1, source=2,
              user_data=bytes(251)),  # 9.2.4.1.2: at most 250 octets of user data
    LinkFrame(dir=True, prm=True, function=PrimaryFunction.RESET_LINK_STATES, destination=70000, source=1),
    LinkFrame(dir=True, prm=True, function=7, destination=1, source=1),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("frame", BAD_FRAMES)
def test_both_link_encoders_refuse_what_cannot_be_sent(frame: LinkFrame) -> None:
    with pytest.raises(EncodeError):
        encode_link(frame)
    with pytest.raises(EncodeError):
        encode_link_declarative(frame)


IIN17 = Point(index=7, values={"state": False})
GOOD = ApplicationRequest(function=FunctionCode.WRITE, objects=(
    ObjectHeader(group=80, variation=1, qualifier=0x00, start=7, stop=7, points=(IIN17,)),))
BAD_FRAGMENTS = [
    replace(GOOD, objects=(replace(GOOD.objects[0], stop=8),)),  # the range names 2 objects, 1 given
    replace(GOOD, objects=(replace(GOOD.objects[0], group=99),)),  # g99v1: not in the library
    # packed objects with an index prefix
    replace(GOOD, objects=(replace(GOOD.objects[0], qualifier=0x17, count=1, start=None, stop=None),)),
    replace(GOOD, objects=(ObjectHeader(group=120, variation=1, qualifier=0x5B, count=1,
                                        points=(Point(values={"csq": 1}),)),)),  # fields missing
]


@pytest.mark.parametrize("fragment", BAD_FRAGMENTS)
def test_both_fragment_encoders_refuse_what_cannot_be_sent(fragment: ApplicationRequest) -> None:
    assert encode_fragment_declarative(GOOD) == encode_fragment(GOOD)
    with pytest.raises(EncodeError):
        encode_fragment(fragment)
    with pytest.raises(EncodeError):
        encode_fragment_declarative(fragment)

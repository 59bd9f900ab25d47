"""Properties of the DNP3 outstation machine under random interleavings (Hypothesis).

A master's requests, confirms (right and wrong), database changes and clock
ticks arrive in any order. Whatever the order:

- every fragment the machine sends decodes, within ``max_fragment_size``;
- the state says exactly which confirms are awaited (IEEE 1815 4.5, 4.6);
- an event leaves the buffers only when a fragment that carried it is
  confirmed (5.1.3): never by a timeout, a new request or a wrong confirm;
- nothing but a typed value comes out (no exception).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wireproof.codecs.dnp3.application import decode_fragment, encode_fragment
from wireproof.codecs.dnp3.constants import FunctionCode as F
from wireproof.codecs.dnp3.database import Database
from wireproof.codecs.dnp3.messages import ApplicationRequest, ApplicationResponse, ObjectHeader
from wireproof.codecs.dnp3.outstation import AppState, Outstation, OutstationConfig

READS = [tuple(ObjectHeader(group=60, variation=v, qualifier=6) for v in vs)
         for vs in ((2,), (3, 4), (2, 3, 4, 1))]

step = st.one_of(
    st.tuples(st.just("read"), st.integers(0, 15), st.integers(0, len(READS) - 1)),
    st.tuples(st.just("confirm"), st.integers(0, 15), st.booleans()),
    st.tuples(st.just("change"), st.integers(0, 9), st.integers(-1000, 1000)),
    st.tuples(st.just("tick"), st.floats(0.0, 3.0), st.just(0)),
    st.tuples(st.just("enable"), st.integers(0, 15), st.just(0)),
)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(step, max_size=60), size=st.sampled_from([64, 128, 2048]),
       unsolicited=st.booleans())
def test_random_interleavings_keep_the_invariants(steps: list[tuple[str, object, object]], size: int,
                                                  unsolicited: bool) -> None:
    db = Database.from_mapping({"analog": {"values": [0] * 10, "class": 1},
                                "binary": {"values": [False] * 3, "class": 2}})
    o = Outstation(db, OutstationConfig(max_fragment_size=size, unsolicited=unsolicited, confirm_timeout=1.0,
                                        unsolicited_confirm_timeout=1.0, event_buffer=(1000, 1000, 1000)))
    now = 0.0
    sent: dict[tuple[bool, int], set[int]] = {}  # (uns, seq) -> serials carried by the last such fragment

    def take(fragments: list[bytes]) -> None:
        for raw in fragments:
            assert len(raw) <= size
            r = decode_fragment(raw)
            assert isinstance(r, ApplicationResponse) and encode_fragment(r) == raw
            owner = "uns" if r.uns else "sol"
            carried = {e.serial for e in o.pending_events() if o._owner.get(e.serial) == owner}
            sent[(r.uns, r.seq)] = carried

    for kind, a, b in steps:
        before = {e.serial for e in o.pending_events()}
        confirmed: set[int] = set()
        if kind == "read":
            read = ApplicationRequest(seq=int(a), objects=READS[int(b)])
            take(o.receive(encode_fragment(read), now).fragments)
        elif kind == "confirm":
            confirmed = sent.get((bool(b), int(a)), set())
            take(o.receive(bytes((0xC0 | (0x10 if b else 0) | int(a), 0)), now).fragments)
        elif kind == "change":
            db.change("analog", int(a), int(b), now)
        elif kind == "enable":
            request = ApplicationRequest(seq=int(a), function=F.ENABLE_UNSOLICITED, objects=READS[1])
            take(o.receive(encode_fragment(request), now).fragments)
        else:
            now += float(a)
        take(o.tick(now).fragments)
        gone = before - {e.serial for e in o.pending_events()}
        assert gone <= confirmed, f"events {gone - confirmed} left without a confirm"
        sol, uns = o._sol_awaiting is not None, o._uns_awaiting is not None
        assert o.state is {(False, False): AppState.IDLE, (True, False): AppState.SOLICITED_CONFIRM_WAIT,
                           (False, True): AppState.UNSOLICITED_CONFIRM_WAIT,
                           (True, True): AppState.BOTH_CONFIRM_WAIT}[(sol, uns)]

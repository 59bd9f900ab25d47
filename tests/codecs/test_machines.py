"""Every (state, event) pair of every machine a protocol declares, driven (h2's habit).

For each machine class named in a protocol descriptor's ``machines`` (and the
neutral pairing machine), and for every state of its table and every event
type it declares: a machine in that state handles an event of that type,
its fields drawn by Hypothesis. A pair the table lists must lead exactly to
the listed state (whatever the fields); a pair it does not list must raise a
ProtocolViolation of the right side (local or remote) naming a clause, and
leave the state alone. Nothing else may escape.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wireproof.codecs._machine import Machine, Role, TransitionTable
from wireproof.codecs._pairing import PAIRING, Answer, Expire, Pairing, TxState
from wireproof.errors import LocalProtocolError, ProtocolViolation, RemoteProtocolError
from wireproof.protocol import REGISTRY, resolve

NEUTRAL = [("neutral", "wireproof.codecs._pairing:Pairing")]
MACHINES = NEUTRAL + list(REGISTRY.machines())


def test_protocols_declare_machines() -> None:
    assert any(protocol == "modbus" for protocol, _ in MACHINES)


def check_machine(cls: Any, data: st.DataObject) -> None:
    table: TransitionTable[Any] = cls.TABLE
    assert issubclass(cls, Machine) and table.states and table.events
    for state, event_type, rule in table.pairs():
        machine = cls.in_state(state)
        assert machine.state is state, f"{cls.__name__}.in_state({state}) gave a machine in {machine.state}"
        event = data.draw(st.builds(event_type), label=f"{state.name} {event_type.__name__}")
        role = table.role_of(event_type)
        if rule is None:
            with pytest.raises(ProtocolViolation) as info:
                machine.handle(event, role)
            expected = LocalProtocolError if role is Role.LOCAL else RemoteProtocolError
            where = f"{state.name} {event_type.__name__}"
            assert isinstance(info.value, expected), f"{where}: {info.value!r}"
            assert info.value.clause, f"{where}: the violation names no clause"
            assert machine.state is state
        else:
            machine.handle(event, role)
            where = f"{state.name} {event_type.__name__}"
            assert machine.state is rule.target, (
                f"{where}: {machine.state.name}, the table says {rule.target.name}")


@pytest.mark.parametrize(("protocol", "ref"), MACHINES, ids=[ref for _, ref in MACHINES])
@settings(max_examples=25)
@given(data=st.data())
def test_every_state_and_event(protocol: str, ref: str, data: st.DataObject) -> None:
    check_machine(resolve(ref), data)


class _Wrong(Pairing):  # type: ignore[type-arg]
    """A machine that ends where its table does not say (an answer leaves the key pending)."""

    def handle(self, event: object, role: Role) -> object:
        out = super().handle(event, role)
        if isinstance(event, Answer):
            self.state = TxState.PENDING
        return out


def test_the_check_can_fail() -> None:
    @settings(max_examples=5, database=None)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        check_machine(_Wrong, data)

    with pytest.raises(AssertionError, match="Answer: PENDING, the table says"):
        run()


def test_a_violation_names_its_clause() -> None:
    with pytest.raises(LocalProtocolError, match="only a pending request can time out"):
        PAIRING.step(TxState.ANSWERED, Expire(key=1), Role.LOCAL)
    text = PAIRING.render()
    assert "ANSWERED" in text and "violation [only a pending request can time out]" in text

from __future__ import annotations

from typing import Any

import pytest

from toyproto.codec import ToyCodec, frame
from wireproof.harness.plugin import EvidenceRecorder
from wireproof.harness.transports import open_transport


@pytest.mark.conformance(clause="TOY-001", level="shall")
def test_answer_is_upper_case(toy_target: str, toy_params: dict[str, Any],
                              evidence: EvidenceRecorder) -> None:
    """The server answers with the key of the request and the payload upper-cased."""
    greeting = toy_params["greeting"].encode()
    with open_transport(toy_target, timeout=2.0, tap=evidence.tap) as link:
        link.send(frame(toy_params["key"], greeting))
        answer = ToyCodec().decode(link.recv_exactly(3 + len(greeting)))
    assert (answer.key, answer.payload) == (toy_params["key"], greeting.upper())


@pytest.mark.conformance(clause="TOY-002", level="should")
def test_the_alias_fixture(wireproof_toy_key: int, toy_params: dict[str, Any]) -> None:
    """The alias option's fixture and the parameter agree."""
    assert wireproof_toy_key == toy_params["key"]

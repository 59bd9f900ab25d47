"""wireproof.harness.clauses: setup steps end a clause inconclusive; attempts fail with the count."""

from __future__ import annotations

import pytest

from wireproof.errors import HarnessError, LocalProtocolError, ProtocolViolation
from wireproof.harness.clauses import attempts, setup_step
from wireproof.harness.plugin import INCONCLUSIVE_PREFIX, EvidenceRecorder


def test_setup_step_failure_is_inconclusive_naming_the_step() -> None:
    rec = EvidenceRecorder()
    with pytest.raises(pytest.skip.Exception) as info, setup_step(rec, "read coil 7 before writing it"):
        raise AssertionError("read-back of 1 coil(s) at 7: expected ReadCoilsResponse, got ExceptionResponse")
    reason = str(info.value.msg)
    assert reason.startswith(INCONCLUSIVE_PREFIX)
    assert "setup step failed" in reason and "read coil 7 before writing it" in reason
    assert "ExceptionResponse" in reason
    assert rec.entries[0]["note"] == "setup: read coil 7 before writing it"


def test_setup_step_passes_harness_errors_and_success_through() -> None:
    rec = EvidenceRecorder()
    with setup_step(rec, "fine"):
        pass
    with pytest.raises(HarnessError), setup_step(rec, "harness"):
        raise HarnessError("no file descriptors")
    with pytest.raises(LocalProtocolError), setup_step(rec, "ours"):
        raise LocalProtocolError("we may not send that")


def test_attempts_report_the_count_and_each_failure() -> None:
    rec = EvidenceRecorder()
    seen: list[int] = []

    def attempt(i: int) -> None:
        seen.append(i)
        if i != 2:
            assert i == 2, f"two ADUs: answer 2 of 2: no response (attempt {i})"

    with pytest.raises(AssertionError) as info:
        attempts(rec, 3, attempt, what="two ADUs")
    assert seen == [1, 2, 3]  # every attempt runs, even after a failure
    text = str(info.value)
    assert text.splitlines()[0] == "two ADUs: correct in 1 of 3 attempts"
    assert "attempt 1: answer 2 of 2: no response (attempt 1)" in text
    assert "attempt 3: answer 2 of 2: no response (attempt 3)" in text
    assert "assert" not in text.split("\n", 1)[1]  # pytest's rewrite of the expression stays out
    notes = [e["note"] for e in rec.entries]
    assert "attempt 2 of 3: correct" in notes


def test_attempts_pass_when_every_attempt_does() -> None:
    rec = EvidenceRecorder()
    attempts(rec, 2, lambda i: None, what="split ADU")
    assert [e["note"] for e in rec.entries] == ["split ADU: attempt 1 of 2", "attempt 1 of 2: correct",
                                                "split ADU: attempt 2 of 2", "attempt 2 of 2: correct"]


def test_attempts_count_protocol_violations_but_not_harness_errors() -> None:
    def violation(i: int) -> None:
        raise ProtocolViolation("transaction id not echoed")

    with pytest.raises(AssertionError, match="correct in 0 of 2"):
        attempts(EvidenceRecorder(), 2, violation, what="x")

    def harness(i: int) -> None:
        raise HarnessError("broken harness")

    with pytest.raises(HarnessError):
        attempts(EvidenceRecorder(), 2, harness, what="x")

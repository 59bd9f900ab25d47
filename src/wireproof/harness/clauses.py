"""Verdicts that are stable and fair: setup steps and repeated attempts, for clause tests of any protocol.

A clause tests one rule. Two things must not blur its verdict:

- **Setup.** A clause often needs a step before it can test its rule:
  reading the value it is about to overwrite, opening a second connection,
  putting the device in a state. If that step fails, the rule was never
  tested: the clause is ``inconclusive`` and the report names the step
  (:func:`setup_step`), never a ``fail`` of the rule. What the step's failure
  says about the device is some other clause's to judge.
- **Variance.** A clause whose outcome can depend on timing (segments that
  arrive together or apart, requests pipelined while the device is busy)
  probes several times (:func:`attempts`) and reports every attempt; a device
  that gets it right only sometimes fails with the count ("correct in 1 of 3
  attempts") and each failed attempt's reason, so two runs against one
  device give one verdict.

Only failures that are the device's (``AssertionError``, ``ProtocolViolation``
but not ``LocalProtocolError``, ``DecodeError``: the plugin's notion of
an implementation fault) are caught; the harness's own errors pass through
as ``error`` verdicts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol

from wireproof.harness.plugin import inconclusive

__all__ = ["attempts", "setup_step"]


class _Notes(Protocol):
    def note(self, text: str) -> None: ...


def _device_fault(exc: BaseException) -> bool:
    from wireproof.errors import DecodeError, LocalProtocolError, ProtocolViolation

    if isinstance(exc, LocalProtocolError):
        return False
    return isinstance(exc, AssertionError | ProtocolViolation | DecodeError)


def _reason(exc: BaseException, what: str = "") -> str:
    """The failure in one line: an assertion's own message (pytest's rewrite of the expression after it,
    from the first ``assert`` line on, left out), without a repeat of the attempt's ``what``."""
    lines = [line.strip() for line in (str(exc).strip() or type(exc).__name__).splitlines() if line.strip()]
    if isinstance(exc, AssertionError) and not lines[0].startswith("assert "):
        lines = lines[:next((i for i, line in enumerate(lines) if line.startswith("assert ")), len(lines))]
    text = "; ".join(lines)
    return text.removeprefix(f"{what}: ") if what else text


@contextlib.contextmanager
def setup_step(evidence: _Notes, what: str) -> Iterator[None]:
    """Run a setup step; if the device makes it fail, end the clause ``inconclusive`` naming the step."""
    evidence.note(f"setup: {what}")
    try:
        yield
    except Exception as exc:
        if not _device_fault(exc):
            raise
        evidence.note(f"setup step failed: {what}: {_reason(exc)}")
        inconclusive(f"setup step failed, the rule was not tested: {what}: {_reason(exc)}")


def attempts(evidence: _Notes, n: int, attempt: Callable[[int], None], *, what: str) -> None:
    """Run ``attempt(i)`` for i = 1..n, each recorded; fail with the count if any attempt failed.

    Every attempt runs, even after a failure, so the count is the device's
    rate, not the position of its first slip.
    """
    failed: list[tuple[int, str]] = []
    for i in range(1, n + 1):
        evidence.note(f"{what}: attempt {i} of {n}")
        try:
            attempt(i)
        except Exception as exc:
            if not _device_fault(exc):
                raise
            failed.append((i, _reason(exc, what)))
            evidence.note(f"attempt {i} of {n} failed: {_reason(exc, what)}")
        else:
            evidence.note(f"attempt {i} of {n}: correct")
    if failed:
        good = n - len(failed)
        reasons = "\n".join(f"attempt {i}: {reason}" for i, reason in failed)
        raise AssertionError(f"{what}: correct in {good} of {n} attempts\n{reasons}")

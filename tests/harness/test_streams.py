"""harness.simulators.streams: the limits a served device puts on each client."""

from __future__ import annotations

import math

import pytest

from wireproof.harness.simulators.streams import Limits


def test_default_limits_are_the_documented_ones() -> None:
    limits = Limits()
    assert (limits.idle_timeout, limits.frame_timeout, limits.max_garbage) == (60.0, 5.0, 65536)
    assert (limits.read_size, limits.max_frames) == (4096, 64)
    assert Limits(idle_timeout=0, frame_timeout=0, max_garbage=0).idle_timeout == 0  # 0 disables


@pytest.mark.parametrize("bad", [{"idle_timeout": math.nan}, {"idle_timeout": math.inf},
                                 {"frame_timeout": -1.0}, {"max_garbage": -1}, {"read_size": 0},
                                 {"max_frames": 0}])
def test_limits_reject_what_cannot_be_a_limit(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Limits(**bad)  # type: ignore[arg-type]

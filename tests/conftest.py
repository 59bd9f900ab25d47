"""Shared test configuration."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from wireproof.protocol import REGISTRY, ProtocolRegistry

pytest_plugins = ["pytester"]

# Timing deadlines make property tests flaky on a loaded 2-core CI machine;
# correctness, not speed, is what they check (speed has `tox -e bench`).
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", parent=settings.get_profile("default"), max_examples=20_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def protocol_registry() -> Iterator[ProtocolRegistry]:
    """The process-wide protocol registry; what a test registers is gone after it."""
    with REGISTRY.temporary() as registry:
        yield registry

# tests/third_party holds a protocol package written as an outside project would write one;
# tests/test_third_party_protocol.py installs it in a temporary site and runs it there.
collect_ignore_glob = ["third_party/*"]

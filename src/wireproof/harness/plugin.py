"""wireproof's pytest plugin (placeholder; filled in by the plugin work)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "conformance(clause, level): a conformance clause test (level: shall|should|may)"
    )

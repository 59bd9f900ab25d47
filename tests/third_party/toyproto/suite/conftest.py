from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from wireproof.harness.suites import suite_params


@pytest.fixture(scope="session")
def toy_params(wireproof_params: dict[str, str]) -> dict[str, Any]:
    return suite_params("toy-server", wireproof_params)


@pytest.fixture(scope="session")
def toy_target(wireproof_target: str | None) -> Iterator[str]:
    if wireproof_target is not None:
        yield wireproof_target
        return
    from toyproto.device import running

    with running() as address:
        yield f"toy://{address.host}:{address.port}"

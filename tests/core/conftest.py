from __future__ import annotations

from collections.abc import Iterator

import pytest
from core_testkit import EVENTS, SECRETS, make_registry

from blockyard.registry import Registry


@pytest.fixture
def registry() -> Registry:
    return make_registry()


@pytest.fixture(autouse=True)
def _reset_testkit() -> Iterator[None]:
    EVENTS.clear()
    SECRETS.clear()
    yield
    EVENTS.clear()
    SECRETS.clear()

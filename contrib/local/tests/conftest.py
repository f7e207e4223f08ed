"""Fixtures shared by the blockyard-local tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from blockyard.state import StateStore
from blockyard_local.state_memory import InMemoryStateStore
from blockyard_local.state_sqlite import SQLiteStateStore


@pytest.fixture(params=["in-memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateStore]:
    """Each state store, initialised (SQLite on a real file in a fresh folder)."""
    s: StateStore
    if request.param == "in-memory":
        s = InMemoryStateStore(name="mem")
    else:
        s = SQLiteStateStore({"connectionString": str(tmp_path / "state.db")}, name="sql")
    async with s:
        yield s

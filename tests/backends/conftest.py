"""Shared set-up for the launcher tests: importable package, isolated state folders."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import blockyard_conformance.backends  # noqa: F401
except ImportError:  # not installed yet: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "conformance" / "src"))

from blockyard_conformance.backends.launcher import Launcher


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state folder, also exported as BLOCKYARD_STATE_DIR for child processes."""
    folder = tmp_path / "state"
    monkeypatch.setenv("BLOCKYARD_STATE_DIR", str(folder))
    monkeypatch.setenv("BLOCKYARD_USE_DOCKER", "0")
    for var in ("BLOCKYARD_REDIS_URL", "BLOCKYARD_REDIS_AUTH_URL"):
        monkeypatch.delenv(var, raising=False)
    return folder


@pytest.fixture
def launcher(state_dir: Path) -> Iterator[Launcher]:
    """A launcher on the private state folder; everything it started is stopped afterwards."""
    instance = Launcher(state_dir, use_docker=False)
    yield instance
    instance.down()

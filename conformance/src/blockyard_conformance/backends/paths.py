"""Where the launcher keeps its state and finds the project's files."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["compose_file", "project_root", "state_root"]


def state_root() -> Path:
    """``$BLOCKYARD_STATE_DIR``, else ``~/.cache/blockyard/backends`` (created, mode 0700)."""
    env = os.environ.get("BLOCKYARD_STATE_DIR")
    root = Path(env) if env else Path.home() / ".cache" / "blockyard" / "backends"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def project_root() -> Path | None:
    """The checkout holding ``docker/`` and ``tools/``: ``$BLOCKYARD_PROJECT_ROOT``, else the
    nearest folder with ``docker/redis.yml`` above the working folder, else above this file."""
    env = os.environ.get("BLOCKYARD_PROJECT_ROOT")
    if env:
        return Path(env)
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            if (folder / "docker" / "redis.yml").is_file():
                return folder
    return None


def compose_file(backend: str) -> Path | None:
    """``docker/<backend>.yml`` of the project, when it exists."""
    root = project_root()
    if root is None:
        return None
    path = root / "docker" / f"{backend}.yml"
    return path if path.is_file() else None

"""Where the launcher keeps its state and finds the files it ships with.

Everything the launcher needs is package data of ``blockyard_conformance.backends``: the Compose
files (``compose/<backend>.yml``), the Maven poms (``maven/<name>/pom.xml``) and the npm manifests
(``npm/<name>/package.json`` and its lock). What gets installed from them lives in a cache folder
outside the package, so a read-only site-packages works.

State is kept per project: ``$BLOCKYARD_STATE_DIR`` when set, else
``~/.cache/blockyard/backends/<project-name>-<hash>/``, where the project is the nearest folder at
or above the working folder holding ``pyproject.toml`` or ``.git`` (else the working folder itself).
Two projects' launchers therefore never see, reuse or stop each other's servers.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = [
    "cache_root",
    "compose_dir",
    "compose_file",
    "npm_dir",
    "npm_manifest_dir",
    "project_dir",
    "state_root",
]

_PACKAGE = Path(__file__).resolve().parent


def cache_root() -> Path:
    """``$BLOCKYARD_CACHE_DIR``, else ``~/.cache/blockyard`` (what ``backends install`` fills)."""
    env = os.environ.get("BLOCKYARD_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "blockyard"


def project_dir(start: Path | None = None) -> Path:
    """The project the launcher works for: the nearest folder at or above ``start`` (default: the
    working folder) with ``pyproject.toml`` or ``.git``, else ``start`` itself."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() or (folder / ".git").exists():
            return folder
    return here


def state_root() -> Path:
    """The launcher's state folder (created, mode 0700): ``$BLOCKYARD_STATE_DIR``, else one folder
    per project under ``~/.cache/blockyard/backends``."""
    env = os.environ.get("BLOCKYARD_STATE_DIR")
    if env:
        root = Path(env)
    else:
        project = project_dir()
        digest = hashlib.sha256(str(project).encode()).hexdigest()[:12]
        root = cache_root() / "backends" / f"{project.name or 'root'}-{digest}"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def compose_dir() -> Path:
    """The folder of the Compose files shipped with the kit."""
    return _PACKAGE / "compose"


def compose_file(backend: str) -> Path | None:
    """``compose/<backend>.yml`` shipped with the kit, when there is one."""
    path = compose_dir() / f"{backend}.yml"
    return path if path.is_file() else None


def npm_manifest_dir(name: str) -> Path:
    """The shipped ``package.json`` / ``package-lock.json`` of npm-installed server ``name``."""
    return _PACKAGE / "npm" / name


def npm_dir(name: str) -> Path:
    """Where ``backends install`` runs ``npm ci`` for ``name``: ``<cache>/npm/<name>``."""
    return cache_root() / "npm" / name

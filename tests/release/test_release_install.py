"""The built wheels install (not editable) into a fresh venv with ``pip install "blockyard[redis]"``
resolved from the local dist folder, and the installed command works."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
import zipfile
from email import message_from_string
from pathlib import Path

import pytest
from release_kit import CORE, Builder, distributions

from blockyard.contract import CONTRACT_VERSION

pytestmark = pytest.mark.slow


def _third_party_requirements(wheels: list[Path]) -> list[str]:
    """The wheels' unconditional requirements that are not first-party distributions."""
    found = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
            meta = message_from_string(archive.read(name).decode())
        for req in meta.get_all("Requires-Dist") or []:
            project = re.match(r"[A-Za-z0-9._-]+", req)
            if "extra ==" not in req and project and not project.group().lower().startswith(CORE):
                found.append(req)
    return found


def test_pip_install_blockyard_redis_from_dist_then_blockyard_list(builder: Builder, tmp_path: Path) -> None:
    dists = {d.name: d for d in distributions()}
    wheels = [builder.sdist_and_wheel(dists[name])[1] for name in (CORE, "blockyard-redis")]
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BLOCKYARD_", "VIRTUAL_ENV"))}
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--disable-pip-version-check"]

    def run(*args: str | Path) -> str:
        done = subprocess.run([str(a) for a in args], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    # Third-party dependencies come from the package index (pip's cache); every first-party one
    # must then come from the local dist folder: no index at all.
    run(*pip, *_third_party_requirements(wheels))
    run(*pip, "--no-index", "--find-links", builder.dist_dir, f"{CORE}[redis]")

    installed = json.loads(
        run(python, "-c", "import json, importlib.metadata as m; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
    )  # fmt: skip
    assert installed[CORE] == installed["blockyard-redis"] == dists[CORE].version
    assert "blockyard-local" not in installed  # the extra pulls only its plugin
    where = run(python, "-c", "import blockyard, blockyard_redis; print(blockyard.__file__, blockyard_redis.__file__)")
    assert all(Path(p).is_relative_to(env_dir) for p in where.split()), where  # not the checkout: not editable

    table = run(env_dir / "bin" / "blockyard", "list")
    assert "state.redis" in table
    assert "failed to load" not in table
    listing = json.loads(run(env_dir / "bin" / "blockyard", "list", "--format", "json"))
    assert {c["type"] for c in listing["components"]} == {"state.redis", "pubsub.redis", "bindings.redis"}
    assert listing["failures"] == []
    version = run(env_dir / "bin" / "blockyard", "--version").splitlines()
    assert version == [
        f"blockyard {dists[CORE].version} (contract {CONTRACT_VERSION})",
        f"  blockyard-redis {dists[CORE].version}",
    ]

"""Every distribution builds an sdist and a wheel that twine accepts, with complete metadata, and the
sdist builds the same wheel as the source tree."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email import message_from_string
from pathlib import Path

import pytest
from release_kit import PYTHONS, URL_KEYS, Builder, Dist, distributions

pytestmark = pytest.mark.slow
DISTS = distributions()


def _metadata(wheel: Path) -> tuple[zipfile.ZipFile, bytes]:
    archive = zipfile.ZipFile(wheel)
    [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    return archive, archive.read(name)


@pytest.mark.parametrize("dist", DISTS, ids=lambda d: d.name)
def test_sdist_and_wheel_are_complete_and_the_sdist_builds_the_same_wheel(builder: Builder, dist: Dist) -> None:
    sdist, wheel = builder.sdist_and_wheel(dist)
    subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)], check=True, capture_output=True
    )
    archive, raw = _metadata(wheel)
    meta = message_from_string(raw.decode())
    assert (meta["Name"], meta["Version"]) == (dist.name, dist.version)
    assert meta["Summary"] == dist.pyproject["project"]["description"]
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload() == (dist.path / "README.md").read_text()
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert {f"Programming Language :: Python :: {v}" for v in PYTHONS} <= set(classifiers)
    assert {u.split(",")[0] for u in meta.get_all("Project-URL") or []} >= set(URL_KEYS)
    names = set(archive.namelist())
    assert f"{dist.package}/py.typed" in names
    assert f"{dist.name.replace('-', '_')}-{dist.version}.dist-info/licenses/LICENSE" in names

    with tarfile.open(sdist) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    assert {"pyproject.toml", "README.md", "LICENSE", f"src/{dist.package}/py.typed"} <= members

    from_tree = zipfile.ZipFile(builder.tree_wheel(dist))
    assert sorted(from_tree.namelist()) == sorted(archive.namelist())
    different = [n for n in archive.namelist() if archive.read(n) != from_tree.read(n)]
    assert different == [], f"the wheel built from the sdist differs from the tree's in {different}"

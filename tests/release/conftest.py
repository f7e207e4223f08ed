from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from release_kit import Dist


class Builder:
    """Builds distributions once per test session, with this environment's hatchling (no isolation)."""

    def __init__(self, root: Path) -> None:
        self.dist_dir = root / "dist"  # sdists and the wheels built from them, as `make dist` makes them
        self.tree_dir = root / "tree"  # wheels built straight from the source tree
        self._built: dict[tuple[str, str], list[Path]] = {}

    def _build(self, dist: Dist, outdir: Path, *flags: str) -> list[Path]:
        key = (dist.name, str(outdir))
        if key not in self._built:
            before = set(outdir.glob("*")) if outdir.exists() else set()
            subprocess.run(
                [sys.executable, "-m", "build", "--no-isolation", *flags, "--outdir", str(outdir), str(dist.path)],
                check=True,
                capture_output=True,
            )
            self._built[key] = sorted(set(outdir.glob("*")) - before)
        return self._built[key]

    def sdist_and_wheel(self, dist: Dist) -> tuple[Path, Path]:
        """``python -m build``: the sdist, then the wheel built from that sdist."""
        files = self._build(dist, self.dist_dir)
        [sdist] = [f for f in files if f.name.endswith(".tar.gz")]
        [wheel] = [f for f in files if f.suffix == ".whl"]
        return sdist, wheel

    def tree_wheel(self, dist: Dist) -> Path:
        """The wheel built straight from the source folder."""
        [wheel] = self._build(dist, self.tree_dir, "--wheel")
        return wheel


@pytest.fixture(scope="session")
def builder(tmp_path_factory: pytest.TempPathFactory) -> Builder:
    return Builder(tmp_path_factory.mktemp("release"))

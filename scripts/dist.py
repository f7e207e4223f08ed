"""Build the sdist and wheel of every distribution into dist/ and check them with twine.

The distributions are the folders with a pyproject.toml: interfaces/, conformance/ and contrib/*/.
Each wheel is built from its sdist (``python -m build``), so what is published is what the sdist builds.

    python scripts/dist.py                 # every distribution, isolated builds, then twine check --strict
    python scripts/dist.py --list          # "name path" of every distribution, one a line
    python scripts/dist.py contrib/redis   # only these
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def distribution_dirs(root: Path = ROOT) -> list[Path]:
    """Every publishable distribution's folder: the core first, then the kit, then contrib/* sorted."""
    found = [root / "interfaces", root / "conformance", *sorted(root.glob("contrib/*/"))]
    return [d for d in found if (d / "pyproject.toml").is_file()]


def distribution_name(path: Path) -> str:
    """The ``[project] name`` of the distribution in ``path``."""
    with (path / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["name"])


def build(paths: list[Path], outdir: Path, *, isolation: bool = True) -> None:
    """Build an sdist, then a wheel from that sdist, of each distribution into ``outdir``.

    :raises subprocess.CalledProcessError: if a build fails.
    """
    for path in paths:
        args = [sys.executable, "-m", "build", "--outdir", str(outdir), str(path)]
        if not isolation:
            args.insert(3, "--no-isolation")
        print(f"== {distribution_name(path)} ({path.relative_to(ROOT) if path.is_relative_to(ROOT) else path})")
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def check(outdir: Path) -> None:
    """``twine check --strict`` every file in ``outdir``.

    :raises subprocess.CalledProcessError: if a file's metadata or description would be rejected.
    """
    files = sorted(str(p) for p in outdir.iterdir() if p.suffix in (".whl", ".gz"))
    subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *files], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, help="distribution folders (default: all)")
    parser.add_argument("--outdir", type=Path, default=ROOT / "dist")
    parser.add_argument("--no-isolation", action="store_true", help="build with this environment's hatchling")
    parser.add_argument("--list", action="store_true", help="print 'name path' of each distribution and exit")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.paths] or distribution_dirs()
    if args.list:
        for path in paths:
            print(distribution_name(path), path.relative_to(ROOT))
        return
    if not args.paths and args.outdir.exists():
        shutil.rmtree(args.outdir)
    args.outdir.mkdir(parents=True, exist_ok=True)
    build(paths, args.outdir, isolation=not args.no_isolation)
    check(args.outdir)
    print(f"{len(paths)} distributions built into {args.outdir}")


if __name__ == "__main__":
    main()

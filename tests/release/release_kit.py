"""What makes the distributions publishable, as checks that return their problems (empty = fine).

Everything is derived from the folders on disk: every ``pyproject.toml`` under interfaces/,
conformance/ and contrib/*/ is a distribution. The checks take plain data so that the tests can
plant a defect and watch each one fail.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
CORE = "blockyard"
PYTHONS = ("3.11", "3.12", "3.13")
REQUIRED_CLASSIFIERS = ("Typing :: Typed", *(f"Programming Language :: Python :: {v}" for v in PYTHONS))
URL_KEYS = ("Homepage", "Source", "Issues", "Changelog")
_VERSION_RE = re.compile(r'^__version__ = "([^"]+)"$', re.M)


@dataclass(frozen=True)
class Dist:
    """One distribution folder and its parsed ``pyproject.toml``."""

    path: Path
    pyproject: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.pyproject["project"]["name"])

    @property
    def package(self) -> str:
        return Path(self.pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"][0]).name

    @property
    def extra(self) -> str | None:
        """The core's extra that installs this plugin (``blockyard-redis`` -> ``redis``)."""
        return self.name.removeprefix(f"{CORE}-") if self.path.parent.name == "contrib" else None

    def version_sources(self) -> list[str]:
        """Where a version is written: the pyproject's static field and/or ``__version__`` literals."""
        found = []
        project = self.pyproject["project"]
        if "version" in project:
            found.append(f"{self.path.name}/pyproject.toml")
        init = self.path / "src" / self.package / "__init__.py"
        if init.is_file() and _VERSION_RE.search(init.read_text()):
            found.append(str(init.relative_to(self.path)))
        return found

    @property
    def version(self) -> str:
        project = self.pyproject["project"]
        if "version" in project:
            return str(project["version"])
        path = self.path / self.pyproject["tool"]["hatch"]["version"]["path"]
        match = _VERSION_RE.search(path.read_text())
        assert match, f"{path} has no __version__"
        return match.group(1)


def load(path: Path) -> Dist:
    with (path / "pyproject.toml").open("rb") as f:
        return Dist(path, tomllib.load(f))


def distributions(root: Path = ROOT) -> list[Dist]:
    """Every distribution on disk: the core, the kit, then contrib/* sorted."""
    dirs = [root / "interfaces", root / "conformance", *sorted(root.glob("contrib/*/"))]
    return [load(d) for d in dirs if (d / "pyproject.toml").is_file()]


def metadata_problems(dist: Dist) -> list[str]:
    """Complete metadata: README, license file and expression, classifiers, Pythons, URLs, typed marker."""
    p = dist.pyproject["project"]
    n = dist.name
    problems = []
    if p.get("readme") != "README.md" or not (dist.path / "README.md").is_file():
        problems.append(f"{n}: readme must be its own README.md")
    if not p.get("description"):
        problems.append(f"{n}: no one-line description")
    if p.get("license") != "Apache-2.0" or p.get("license-files") != ["LICENSE"]:
        problems.append(f"{n}: license must be 'Apache-2.0' with license-files = ['LICENSE']")
    if not (dist.path / "LICENSE").is_file() or (dist.path / "LICENSE").read_bytes() != (ROOT / "LICENSE").read_bytes():
        problems.append(f"{n}: LICENSE must be a copy of the repository's LICENSE")
    if p.get("requires-python") != ">=3.11":
        problems.append(f"{n}: requires-python must be '>=3.11'")
    missing = [c for c in REQUIRED_CLASSIFIERS if c not in p.get("classifiers", [])]
    if missing:
        problems.append(f"{n}: classifiers lack {missing}")
    urls = p.get("urls", {})
    if [k for k in URL_KEYS if not str(urls.get(k, "")).startswith("https://")]:
        problems.append(f"{n}: project URLs must include {', '.join(URL_KEYS)}")
    if not (dist.path / "src" / dist.package / "py.typed").is_file():
        problems.append(f"{n}: src/{dist.package}/py.typed is missing")
    sources = dist.version_sources()
    if len(sources) != 1:
        problems.append(f"{n}: the version must be written in exactly one place, found {sources or 'none'}")
    elif "version" not in p and dist.pyproject.get("tool", {}).get("hatch", {}).get("version", {}).get("path") != (
        f"src/{dist.package}/__init__.py"
    ):
        problems.append(
            f"{n}: dynamic version must come from [tool.hatch.version] path = src/{dist.package}/__init__.py"
        )
    if dist.path.parent.name == "contrib" and dist.name != f"{CORE}-{dist.path.name}":
        problems.append(f"{n}: contrib/{dist.path.name} must be named {CORE}-{dist.path.name}")
    return problems


def _requirements(dist: Dist) -> list[tuple[str, Requirement]]:
    p = dist.pyproject["project"]
    reqs = [("dependencies", Requirement(r)) for r in p.get("dependencies", [])]
    for extra, items in p.get("optional-dependencies", {}).items():
        reqs += [(f"extra {extra!r}", Requirement(r)) for r in items]
    return reqs


def range_problems(dists: list[Dist]) -> list[str]:
    """Lockstep versions, and every first-party requirement admits the current version and no next minor.

    A requirement on a first-party distribution that is not on disk (a plugin still to come) must
    have the same range as the others.
    """
    versions = {d.name: Version(d.version) for d in dists}
    core = versions.get(CORE)
    problems = [f"{n} is {v}, not {core} (versions are in lockstep)" for n, v in versions.items() if v != core]
    if core is None:
        return [*problems, f"no {CORE} distribution"]
    next_minor = Version(f"{core.major}.{core.minor + 1}")
    for dist in dists:
        for where, req in _requirements(dist):
            if req.name != CORE and not req.name.startswith(f"{CORE}-"):
                continue
            if req.extras and req.name == CORE and dist.name == CORE:
                continue  # blockyard[all] points back at the core's own extras
            current = versions.get(req.name, core)
            if not req.specifier.contains(current) or req.specifier.contains(next_minor):
                problems.append(f"{dist.name} {where}: {req} must admit {req.name} {current} and exclude {next_minor}")
    return problems


def extras_problems(core: Dist, dists: list[Dist]) -> list[str]:
    """One extra per plugin on disk naming it, and ``all`` naming every plugin extra."""
    extras: dict[str, list[str]] = core.pyproject["project"].get("optional-dependencies", {})
    problems = []
    for dist in dists:
        if dist.extra is None:
            continue
        names = [Requirement(r).name for r in extras.get(dist.extra, [])]
        if names != [dist.name]:
            problems.append(f"{CORE}[{dist.extra}] must install exactly {dist.name}, not {names}")
    [all_req] = [Requirement(r) for r in extras.get("all", [f"{CORE}[]"])]
    plugin_extras = {e for e, items in extras.items() if any(Requirement(r).name.startswith(f"{CORE}-") for r in items)}
    plugin_extras.discard("conformance")
    if all_req.name != CORE or set(all_req.extras) != plugin_extras:
        problems.append(f"{CORE}[all] must be {CORE}[{','.join(sorted(plugin_extras))}], not {all_req}")
    return problems


def workflow_problems(workflow: dict[Any, Any], dists: list[Dist]) -> list[str]:
    """The release workflow runs on tags, builds every distribution and publishes with trusted publishing."""
    problems = []
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as true
    if not (isinstance(on, dict) and on.get("push", {}).get("tags")):
        problems.append("release.yml must run on pushed tags")
    jobs = workflow.get("jobs", {})
    include = jobs.get("build", {}).get("strategy", {}).get("matrix", {}).get("include", [])
    built = {row.get("name"): row.get("path") for row in include}
    on_disk = {d.name: str(d.path.relative_to(ROOT)) for d in dists}
    for name, path in on_disk.items():
        if built.get(name) != path:
            problems.append(f"release.yml build matrix lacks {{ name: {name}, path: {path} }}")
    problems += [f"release.yml builds {name}, which is not on disk" for name in built.keys() - on_disk.keys()]
    publish = jobs.get("publish", {})
    steps = publish.get("steps", [])
    if "build" not in str(publish.get("needs")):
        problems.append("the publish job must need the build job")
    if publish.get("permissions", {}).get("id-token") != "write":
        problems.append("the publish job needs permissions: id-token: write (trusted publishing)")
    uses = [s for s in steps if str(s.get("uses", "")).startswith("pypa/gh-action-pypi-publish@")]
    if len(uses) != 1 or {"password", "user"} & set(uses[0].get("with", {})):
        problems.append("publish with pypa/gh-action-pypi-publish and no password (trusted publishing)")
    return problems


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

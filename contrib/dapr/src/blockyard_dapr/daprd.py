"""The Dapr runtime (daprd) and its control plane built from source, and a process wrapper for daprd.

``build()`` compiles the Go module shipped in ``blockyard_dapr/runtime`` — Dapr's runtime at
:data:`DAPR_VERSION` from the Go module proxy, with only the Redis state store, Redis Streams
pub/sub and SQLite name resolution built in, and Dapr's ``placement`` and ``scheduler`` services
from the same module (its ``tool`` directives) — into ``$BLOCKYARD_DAPRD_DIR`` (default
``~/.cache/blockyard/daprd``), keyed by a digest of the module, so a rebuild happens only when the
module changes. A cold build of all three takes minutes and about 1.3 GB of memory; a cached one,
nothing.

:class:`Daprd` runs one sidecar: every port on 127.0.0.1, pluggable components read from a socket
folder, names resolved through a SQLite file beside its log (apps sharing the file find each other;
nothing is announced on the network), actors and workflows through the placement and scheduler
addresses it is given, ready when ``/v1.0/healthz`` answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import ClassVar, Literal

from blockyard_dapr.process import LoopbackProcess, ProcessError, http_answers

__all__ = ["DAPR_VERSION", "PROGRAMS", "Daprd", "DaprdError", "Program", "binary_path", "build", "build_missing"]

DAPR_VERSION = "1.18.2"
LOOPBACK = "127.0.0.1"
_MODULE_FILES = ("go.mod", "go.sum", "main.go")

Program = Literal["daprd", "placement", "scheduler"]
#: Each program this module builds and its Go package (``.``: the module's own ``main``).
PROGRAMS: dict[Program, str] = {
    "daprd": ".",
    "placement": "github.com/dapr/dapr/cmd/placement",
    "scheduler": "github.com/dapr/dapr/cmd/scheduler",
}


class DaprdError(ProcessError):
    """A Dapr program could not be built or did not become ready; the message ends with its log's tail."""


def _module_digest() -> str:
    digest = hashlib.sha256()
    folder = resources.files("blockyard_dapr") / "runtime"
    for name in _MODULE_FILES:
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    """``$BLOCKYARD_DAPRD_DIR`` or ``~/.cache/blockyard/daprd``."""
    return Path(os.environ.get("BLOCKYARD_DAPRD_DIR") or Path.home() / ".cache" / "blockyard" / "daprd")


def binary_path(program: Program = "daprd") -> Path:
    """Where ``program`` built from this module lives (it may not be built yet)."""
    return cache_dir() / f"{DAPR_VERSION}-{_module_digest()}" / program


def build_missing(program: Program = "daprd") -> str | None:
    """``None`` when ``program`` is built or can be built here, else why not and what to install."""
    if binary_path(program).exists() or shutil.which("go"):
        return None
    return f"{program} is not built and Go is not installed (install Go 1.26+, then run: blockyard daprd build)"


def build(program: Program = "daprd", *, go: str = "go", timeout: float = 1800) -> Path:
    """The ``program`` binary; when it is missing, every missing program is built in one ``go build``.

    :raises DaprdError: Go is missing or the build failed (with the compiler's last lines).
    """
    target = binary_path(program)
    if target.exists():
        return target
    go_path = shutil.which(go)
    if go_path is None:
        raise DaprdError(build_missing(program) or "Go is not installed")
    missing = [p for p in PROGRAMS if not binary_path(p).exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="blockyard-daprd-") as tmp,
        tempfile.TemporaryDirectory(prefix=".partial-", dir=target.parent) as out,
    ):
        module = Path(tmp)
        folder = resources.files("blockyard_dapr") / "runtime"
        for name in _MODULE_FILES:
            (module / name).write_bytes((folder / name).read_bytes())
        result = subprocess.run(
            [go_path, "build", "-o", f"{out}/", *(PROGRAMS[p] for p in missing)],
            cwd=module,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).splitlines()[-20:])
            names = ", ".join(missing)
            raise DaprdError(f"building {names} (Dapr {DAPR_VERSION}) failed (exit {result.returncode}):\n{tail}")
        for name in missing:
            (Path(out) / name).replace(binary_path(name))
    return target


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Daprd(LoopbackProcess):
    """One daprd process on loopback; use as a context manager (started on entry, stopped on exit).

    ``placement`` and ``scheduler`` are the ``host:port`` of those services (actors need placement,
    reminders and workflows the scheduler too); without them daprd runs without actors.
    """

    program: ClassVar[str] = "daprd"

    app_id: str
    resources_path: Path
    socket_folder: Path
    log_path: Path
    app_port: int | None = None
    binary: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    names_db: Path | None = None
    """The name-resolution database; apps that call each other share one (default: beside the log)."""
    placement: str | None = None
    scheduler: str | None = None
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    internal_grpc_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def config_path(self) -> Path:
        """The Configuration file written beside the log (SQLite name resolution)."""
        return self.log_path.with_suffix(".config.yaml")

    def write_config(self) -> None:
        """Write :attr:`config_path` (``start`` does it; the launcher's recipe calls it itself)."""
        names = self.names_db or self.log_path.with_name("names.db")
        self.config_path.write_text(
            "apiVersion: dapr.io/v1alpha1\n"
            "kind: Configuration\n"
            "metadata:\n  name: blockyard\n"
            "spec:\n"
            "  nameResolution:\n"
            "    component: sqlite\n"
            "    version: v1\n"
            f"    configuration:\n      connectionString: {json.dumps(str(names))}\n"
        )

    prepare = write_config

    def command(self) -> list[str]:
        """The daprd command line."""
        flags = {
            "--app-id": self.app_id,
            "--resources-path": str(self.resources_path),
            "--dapr-listen-addresses": LOOPBACK,
            "--dapr-http-port": str(self.http_port),
            "--dapr-grpc-port": str(self.grpc_port),
            "--dapr-internal-grpc-port": str(self.internal_grpc_port),
            "--dapr-internal-grpc-listen-address": LOOPBACK,
            "--metrics-port": str(self.metrics_port),
            "--metrics-listen-address": LOOPBACK,
            "--log-level": "info",
            "--config": str(self.config_path),
        }
        if self.app_port is not None:
            flags |= {"--app-port": str(self.app_port), "--app-channel-address": LOOPBACK}
        if self.placement is not None:
            flags["--placement-host-address"] = self.placement
        if self.scheduler is not None:
            flags["--scheduler-host-address"] = self.scheduler
        args = [str(self.binary or binary_path())]
        for flag, value in flags.items():
            args += [flag, value]
        return args + self.extra_args

    def environment(self) -> dict[str, str]:
        return {**os.environ, "DAPR_COMPONENTS_SOCKETS_FOLDER": str(self.socket_folder)}

    def healthy(self) -> bool:
        """True when ``/v1.0/healthz`` answers 204."""
        return self.answers(self.http_url)

    @staticmethod
    def answers(http_url: str) -> bool:
        """True when the daprd whose HTTP API is at ``http_url`` reports itself healthy (204)."""
        return http_answers(f"{http_url}/v1.0/healthz", (204,))

    @property
    def http_url(self) -> str:
        """daprd's HTTP API base URL."""
        return f"http://{LOOPBACK}:{self.http_port}"

"""The Dapr runtime (daprd) built from source, and a process wrapper to run it on loopback.

``build()`` compiles the Go module shipped in ``blockyard_dapr/runtime`` — Dapr's runtime at
:data:`DAPR_VERSION` from the Go module proxy, with only the Redis state store, Redis Streams
pub/sub and SQLite name resolution built in — into ``$BLOCKYARD_DAPRD_DIR`` (default
``~/.cache/blockyard/daprd``), keyed by a digest of the module, so a rebuild happens only when the
module changes. A cold build takes about 3 minutes and 1.3 GB of memory; a cached one, nothing.

:class:`Daprd` runs one sidecar: every port on 127.0.0.1, pluggable components read from a socket
folder, names resolved through a SQLite file beside its log (apps sharing the file find each other;
nothing is announced on the network), ready when ``/v1.0/healthz`` answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["DAPR_VERSION", "Daprd", "DaprdError", "binary_path", "build", "build_missing"]

DAPR_VERSION = "1.18.2"
LOOPBACK = "127.0.0.1"
_MODULE_FILES = ("go.mod", "go.sum", "main.go")


class DaprdError(RuntimeError):
    """daprd could not be built or did not become ready; the message ends with its log's tail."""


def _module_digest() -> str:
    digest = hashlib.sha256()
    folder = resources.files("blockyard_dapr") / "runtime"
    for name in _MODULE_FILES:
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    """``$BLOCKYARD_DAPRD_DIR`` or ``~/.cache/blockyard/daprd``."""
    return Path(os.environ.get("BLOCKYARD_DAPRD_DIR") or Path.home() / ".cache" / "blockyard" / "daprd")


def binary_path() -> Path:
    """Where the daprd built from this module lives (it may not be built yet)."""
    return cache_dir() / f"{DAPR_VERSION}-{_module_digest()}" / "daprd"


def build_missing() -> str | None:
    """``None`` when daprd is built or can be built here, else why not and what to install."""
    if binary_path().exists() or shutil.which("go"):
        return None
    return "daprd is not built and Go is not installed (install Go 1.26+, then run: blockyard daprd build)"


def build(*, go: str = "go", timeout: float = 1800) -> Path:
    """The daprd binary, built first when missing.

    :raises DaprdError: Go is missing or the build failed (with the compiler's last lines).
    """
    target = binary_path()
    if target.exists():
        return target
    go_path = shutil.which(go)
    if go_path is None:
        raise DaprdError(build_missing() or "Go is not installed")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="blockyard-daprd-") as tmp:
        module = Path(tmp)
        folder = resources.files("blockyard_dapr") / "runtime"
        for name in _MODULE_FILES:
            (module / name).write_bytes((folder / name).read_bytes())
        partial = target.with_name(f"daprd.partial-{os.getpid()}")
        result = subprocess.run(
            [go_path, "build", "-o", str(partial), "."],
            cwd=module,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).splitlines()[-20:])
            raise DaprdError(f"building daprd {DAPR_VERSION} failed (exit {result.returncode}):\n{tail}")
        partial.replace(target)
    return target


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Daprd:
    """One daprd process on loopback; use as a context manager (started on entry, stopped on exit)."""

    app_id: str
    resources_path: Path
    socket_folder: Path
    log_path: Path
    app_port: int | None = None
    binary: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    names_db: Path | None = None
    """The name-resolution database; apps that call each other share one (default: beside the log)."""
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
        args = [str(self.binary or binary_path())]
        for flag, value in flags.items():
            args += [flag, value]
        return args + self.extra_args

    def start(self, timeout: float = 60.0) -> Self:
        """Start daprd and wait until it is healthy.

        :raises DaprdError: it exited or was not healthy within ``timeout`` (with its log's tail).
        """
        env = {**os.environ, "DAPR_COMPONENTS_SOCKETS_FOLDER": str(self.socket_folder)}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.write_config()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DaprdError(f"daprd exited with code {self.process.returncode}:\n{self.log_tail()}")
            if self.healthy():
                return self
            time.sleep(0.1)
        self.stop()
        raise DaprdError(f"daprd was not healthy within {timeout:.0f} s:\n{self.log_tail()}")

    def healthy(self) -> bool:
        """True when ``/v1.0/healthz`` answers 204."""
        return self.answers(self.http_url)

    @staticmethod
    def answers(http_url: str) -> bool:
        """True when the daprd whose HTTP API is at ``http_url`` reports itself healthy (204)."""
        try:
            with urllib.request.urlopen(f"{http_url}/v1.0/healthz", timeout=1) as r:
                return bool(r.status == 204)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of daprd's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @property
    def http_url(self) -> str:
        """daprd's HTTP API base URL."""
        return f"http://{LOOPBACK}:{self.http_port}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

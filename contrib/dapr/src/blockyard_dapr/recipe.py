"""The ``daprd`` backend of the launcher: Dapr's runtime built from source and run on loopback.

``blockyard backends install daprd`` builds it (see :mod:`blockyard_dapr.daprd`); ``blockyard
backends up daprd`` runs a sidecar with no components of its own (app id ``blockyard``, its HTTP API
on the endpoint's port) that reads pluggable components from ``<workdir>/sockets``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO, ClassVar

from blockyard_conformance.backends.recipe import LOOPBACK, Endpoint, NativeRecipe, spawn
from blockyard_dapr.daprd import DAPR_VERSION, Daprd, binary_path, build, build_missing

__all__ = ["DaprdRecipe"]


class DaprdRecipe(NativeRecipe):
    """Needs Go to build once; the binary is cached per Dapr version and module digest."""

    backend: ClassVar[str] = "daprd"
    default_port: ClassVar[int] = 3500
    startup_timeout: ClassVar[float] = 120.0
    build_step: ClassVar[str | None] = f"daprd {DAPR_VERSION} from the Go module proxy"
    install_hint: ClassVar[str] = "blockyard backends install daprd (needs Go 1.26 or newer)"

    def missing(self) -> str | None:
        if binary_path().exists():
            return None
        return build_missing() or f"daprd {DAPR_VERSION} is not built yet (run: blockyard backends install daprd)"

    def build(self) -> str | None:
        return f"built {build()}"

    def _sidecar(self, workdir: Path, port: int) -> Daprd:
        resources, sockets = workdir / "resources", workdir / "sockets"
        resources.mkdir(parents=True, exist_ok=True)
        sockets.mkdir(parents=True, exist_ok=True)
        return Daprd("blockyard", resources, sockets, workdir / "daprd.log", http_port=port)

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        sidecar = self._sidecar(workdir, port)
        sidecar.write_config()
        env = {"DAPR_COMPONENTS_SOCKETS_FOLDER": str(sidecar.socket_folder)}
        return spawn(sidecar.command(), log, cwd=workdir, env=env)

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        return Endpoint(
            backend=self.backend,
            flavour=f"daprd {DAPR_VERSION} (built from source, native)",
            host=LOOPBACK,
            port=port,
            url=f"http://{LOOPBACK}:{port}",
            source="native",
            params={"sockets": str(workdir / "sockets"), "resources": str(workdir / "resources")},
        )

    def ready(self, endpoint: Endpoint) -> bool:
        return Daprd.answers(endpoint.url)

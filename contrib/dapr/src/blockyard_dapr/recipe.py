"""The launcher's Dapr backends: ``daprd``, ``placement`` and ``scheduler``, built from source and run
on loopback.

``blockyard backends install daprd`` (or ``placement``, ``scheduler``) builds all three in one
``go build`` (see :mod:`blockyard_dapr.daprd`). ``blockyard backends up daprd`` runs a sidecar with
no components of its own (app id ``blockyard``, its HTTP API on the endpoint's port) that reads
pluggable components from ``<workdir>/sockets``. ``up placement`` / ``up scheduler`` run the
control-plane services with their gRPC API on the endpoint's port (what daprd's
``--placement-host-address`` / ``--scheduler-host-address`` take); their other ports are in
``<workdir>/ports.json``.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import IO, ClassVar

from blockyard_conformance.backends.recipe import LOOPBACK, Endpoint, NativeRecipe, spawn
from blockyard_dapr.controlplane import ControlPlaneProcess, Placement, Scheduler
from blockyard_dapr.daprd import DAPR_VERSION, Daprd, Program, binary_path, build, build_missing

__all__ = ["DaprdRecipe", "PlacementRecipe", "SchedulerRecipe"]


class _DaprProgramRecipe(NativeRecipe):
    """Needs Go to build once; the binaries are cached per Dapr version and module digest."""

    program: ClassVar[Program]
    startup_timeout: ClassVar[float] = 120.0

    def missing(self) -> str | None:
        if binary_path(self.program).exists():
            return None
        return (
            build_missing(self.program)
            or f"{self.program} {DAPR_VERSION} is not built yet (run: blockyard backends install {self.backend})"
        )

    def build(self) -> str | None:
        return f"built {build(self.program)}"


class DaprdRecipe(_DaprProgramRecipe):
    """daprd with no components of its own."""

    backend: ClassVar[str] = "daprd"
    program: ClassVar[Program] = "daprd"
    default_port: ClassVar[int] = 3500
    build_step: ClassVar[str | None] = f"daprd, placement and scheduler {DAPR_VERSION} from the Go module proxy"
    install_hint: ClassVar[str] = "blockyard backends install daprd (needs Go 1.26 or newer)"

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


class _ControlPlaneRecipe(_DaprProgramRecipe):
    """A control-plane service; its extra ports are chosen at start and kept in ``ports.json``."""

    service: ClassVar[type[ControlPlaneProcess]]

    def _service(self, workdir: Path, port: int) -> ControlPlaneProcess:
        ports = workdir / "ports.json"
        if ports.exists():
            return self.service(log_path=workdir / f"{self.program}.log", **json.loads(ports.read_text()))
        service = self.service(log_path=workdir / f"{self.program}.log", port=port)
        chosen = {f.name: getattr(service, f.name) for f in dataclasses.fields(service) if f.name.endswith("port")}
        ports.write_text(json.dumps(chosen))
        return service

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        (workdir / "ports.json").unlink(missing_ok=True)
        return spawn(self._service(workdir, port).command(), log, cwd=workdir)

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        params = {"workdir": str(workdir)}
        return Endpoint(
            backend=self.backend,
            flavour=f"Dapr {self.program} {DAPR_VERSION} (built from source, native)",
            host=LOOPBACK,
            port=port,
            url=f"{LOOPBACK}:{port}",
            source="native",
            params=params,
        )

    def ready(self, endpoint: Endpoint) -> bool:
        workdir = Path(endpoint.params.get("workdir", "."))
        if not (workdir / "ports.json").exists():
            return False
        return self._service(workdir, endpoint.port).healthy()


class PlacementRecipe(_ControlPlaneRecipe):
    """Dapr's placement service (actors)."""

    backend: ClassVar[str] = "placement"
    program: ClassVar[Program] = "placement"
    build_step: ClassVar[str | None] = f"placement {DAPR_VERSION} (with daprd, if not built yet)"
    service: ClassVar[type[ControlPlaneProcess]] = Placement
    default_port: ClassVar[int] = 50005
    install_hint: ClassVar[str] = "blockyard backends install placement (needs Go 1.26 or newer)"


class SchedulerRecipe(_ControlPlaneRecipe):
    """Dapr's scheduler service (reminders, workflows, jobs)."""

    backend: ClassVar[str] = "scheduler"
    program: ClassVar[Program] = "scheduler"
    build_step: ClassVar[str | None] = f"scheduler {DAPR_VERSION} (with daprd, if not built yet)"
    service: ClassVar[type[ControlPlaneProcess]] = Scheduler
    default_port: ClassVar[int] = 50006
    install_hint: ClassVar[str] = "blockyard backends install scheduler (needs Go 1.26 or newer)"

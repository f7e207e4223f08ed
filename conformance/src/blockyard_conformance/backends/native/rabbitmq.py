"""RabbitMQ from Debian's ``rabbitmq-server``, run as the current user on loopback.

The package's inner start script is called directly (the ``/usr/sbin`` wrapper switches
user). A private ``epmd`` runs in the same process group on its own loopback port, so
stopping the group leaves nothing behind. No plugins are enabled. Startup takes ~7 s.
"""

from __future__ import annotations

import glob
import importlib
import subprocess
from pathlib import Path
from typing import IO, ClassVar

from ..recipe import LOOPBACK, Endpoint, NativeRecipe, free_port, spawn, which

_INSTALL = "blockyard backends install rabbitmq"


def _inner_script() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server"))
    return Path(candidates[-1]) if candidates else None


def _version(script: Path | None) -> str:
    if script is None:
        return "?"
    return script.parent.parent.name.removeprefix("rabbitmq_server-")


class RabbitMQRecipe(NativeRecipe):
    """A single RabbitMQ node ``rabbit@localhost``; AMQP user guest/guest."""

    backend: ClassVar[str] = "rabbitmq"
    apt_packages: ClassVar[tuple[str, ...]] = ("rabbitmq-server",)
    pip_packages: ClassVar[tuple[str, ...]] = ()
    client_modules: ClassVar[tuple[str, ...]] = ("pika",)
    default_port: ClassVar[int] = 5672
    startup_timeout: ClassVar[float] = 60.0
    install_hint: ClassVar[str] = _INSTALL

    def missing(self) -> str | None:
        if _inner_script() is None or which("epmd") is None:
            return f"rabbitmq-server is not installed ({_INSTALL})"
        return None

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        script = _inner_script()
        epmd = which("epmd")
        if script is None or epmd is None:
            raise RuntimeError(self.missing())
        epmd_port, dist_port = free_port(), free_port()
        (workdir / "rabbitmq.conf").write_text(f"listeners.tcp.default = {LOOPBACK}:{port}\nloopback_users = none\n")
        (workdir / "enabled_plugins").write_text("[].\n")
        env = {
            "HOME": str(workdir),
            "RABBITMQ_NODENAME": "rabbit@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
            "RABBITMQ_NODE_PORT": str(port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "ERL_EPMD_ADDRESS": LOOPBACK,
            "ERL_EPMD_PORT": str(epmd_port),
            "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(workdir / "log"),
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(workdir / "pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        # epmd in the foreground, in this process group, so it stops with the broker
        launcher = f'"{epmd}" -address {LOOPBACK} -port {epmd_port} & sleep 0.2; exec "$0" "$@"'
        return spawn(["/bin/sh", "-c", launcher, str(script)], log, cwd=workdir, env=env)

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        return Endpoint(
            backend=self.backend,
            flavour=f"rabbitmq {_version(_inner_script())} (native)",
            host=LOOPBACK,
            port=port,
            url=f"amqp://guest:guest@{LOOPBACK}:{port}/",
            source="native",
            params={"user": "guest", "password": "guest", "vhost": "/"},
        )

    def ready(self, endpoint: Endpoint) -> bool:
        pika = importlib.import_module("pika")  # untyped library

        try:
            params = pika.URLParameters(endpoint.url)
            params.socket_timeout = 2
            params.blocked_connection_timeout = 2
            params.connection_attempts = 1
            connection = pika.BlockingConnection(params)
        except Exception:
            return False
        try:
            return bool(connection.is_open)
        finally:
            try:
                connection.close()
            except Exception:
                pass

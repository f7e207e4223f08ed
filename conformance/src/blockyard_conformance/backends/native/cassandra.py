"""Apache Cassandra, single node, from Maven Central jars (``cassandra-all``), on Java 17.

The jars come from ``blockyard backends install`` (``backends/maven/cassandra/pom.xml``);
nothing is downloaded at start. :meth:`CassandraRecipe.start` writes ``workdir/cassandra.yaml``
and runs ``org.apache.cassandra.service.CassandraDaemon`` in the foreground:

* CQL (native transport) on ``127.0.0.1:port``, the internode storage port on another free
  loopback port picked at start; no JMX port (no ``cassandra.jmx.*`` property is set);
* one token, ``SimpleSnitch``, ``AllowAllAuthenticator`` (no password), no auto-snapshots,
  10 s write and CAS-contention timeouts (lightweight transactions contend on 2 busy cores),
  system tables written without fsync (``cassandra.unsafesystem``): a test server, not a
  durable one; data, commit log, hints and caches all live under ``workdir``;
* ``-Xms512m -Xmx1g`` G1 heap plus the ``--add-exports``/``--add-opens`` set Cassandra needs
  on Java 17 (:data:`CASSANDRA_JVM_FLAGS`); INFO log in ``workdir/system.log``, WARN and worse
  also on stdout (the launcher's log).

The endpoint's ``params`` hold ``hosts`` and ``port`` (the Dapr ``state.cassandra`` metadata
names). Readiness means the DataStax ``cassandra-driver`` connected and read
``system.local``, which the server answers only once it accepts CQL.

Example::

    recipe = CassandraRecipe()
    assert recipe.missing() is None, recipe.missing()
    with open(workdir / "launcher.log", "wb") as log:
        proc = recipe.start(workdir, 19042, log)
    ep = recipe.endpoint(19042, workdir)
    while not recipe.ready(ep): time.sleep(0.5)
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import IO, ClassVar

from ..recipe import LOOPBACK, Endpoint, NativeRecipe, free_port, port_open, source_label, spawn
from ._maven import JavaServer, java_binary

__all__ = ["CASSANDRA_JVM_FLAGS", "CassandraRecipe"]

CASSANDRA = JavaServer(name="cassandra", main_jar="cassandra-all-*.jar")

_JDK17_MODULE_FLAGS: tuple[str, ...] = tuple(
    f"--add-exports={m}=ALL-UNNAMED"
    for m in (
        "java.base/jdk.internal.misc",
        "java.base/java.lang.ref",
        "java.management.rmi/com.sun.jmx.remote.internal.rmi",
        "java.rmi/sun.rmi.registry",
        "java.rmi/sun.rmi.server",
        "java.sql/java.sql",
        "jdk.unsupported/sun.misc",
        "jdk.compiler/com.sun.tools.javac.file",
        "jdk.attach/sun.tools.attach",
    )
) + tuple(
    f"--add-opens={m}=ALL-UNNAMED"
    for m in (
        "java.base/java.io",
        "java.base/java.lang",
        "java.base/java.lang.module",
        "java.base/java.lang.reflect",
        "java.base/java.util",
        "java.base/jdk.internal.loader",
        "java.base/jdk.internal.math",
        "java.base/jdk.internal.module",
        "java.base/jdk.internal.ref",
        "java.base/jdk.internal.reflect",
        "java.base/jdk.internal.util.jar",
        "java.base/sun.nio.ch",
        "jdk.compiler/com.sun.tools.javac",
        "jdk.management/com.sun.management.internal",
    )
)

CASSANDRA_JVM_FLAGS: tuple[str, ...] = (
    "-Xms512m",
    "-Xmx1g",
    "-Xss256k",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=300",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:+PerfDisableSharedMem",
    "-Djava.net.preferIPv4Stack=true",
    "-Djdk.attach.allowAttachSelf=true",
    "-Dio.netty.tryReflectionSetAccessible=true",
    *_JDK17_MODULE_FLAGS,
    "-Dcassandra-foreground=yes",
    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
    "-Dcassandra.superuser_setup_delay_ms=0",
    "-Dcassandra.unsafesystem=true",
)
"""JVM options of the node (config, log and data paths are added by start)."""

_MAIN_CLASS = "org.apache.cassandra.service.CassandraDaemon"


class CassandraRecipe(NativeRecipe):
    """Apache Cassandra from the Maven Central jars; ``params`` carry ``hosts`` and ``port``."""

    backend: ClassVar[str] = "cassandra"
    apt_packages: ClassVar[tuple[str, ...]] = ("openjdk-17-jre-headless", "maven")
    pip_packages: ClassVar[tuple[str, ...]] = ()
    maven_project: ClassVar[str | None] = "cassandra"
    client_modules: ClassVar[tuple[str, ...]] = ("cassandra",)
    default_port: ClassVar[int] = 9042
    startup_timeout: ClassVar[float] = 300.0  # a cold JVM on a busy shared machine
    install_hint: ClassVar[str] = "blockyard backends install cassandra"
    #: ``AllowAllAuthenticator`` (no password); a subclass may pick ``PasswordAuthenticator``, whose
    #: default superuser is ``cassandra``/``cassandra`` (then ``ready`` needs them in ``params``).
    authenticator: ClassVar[str] = "AllowAllAuthenticator"

    def missing(self) -> str | None:
        return CASSANDRA.missing()

    def flavour(self) -> str:
        """``cassandra 5.0.9 (Apache Cassandra, native)``: the version of the resolved jars."""
        return f"cassandra {CASSANDRA.version()} (Apache Cassandra, native)"

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        java = java_binary()
        problem = self.missing()
        if java is None or problem is not None:
            raise RuntimeError(problem or "java not found")
        storage_port = free_port()
        while storage_port == port:
            storage_port = free_port()
        for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw", "triggers"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        config = workdir / "cassandra.yaml"
        logback = workdir / "logback.xml"
        config.write_text(_cassandra_yaml(workdir, port, storage_port, self.authenticator))
        logback.write_text(_logback_xml(workdir / "system.log"))
        cmd = [
            java,
            *CASSANDRA_JVM_FLAGS,
            f"-Dcassandra.config={config.as_uri()}",
            f"-Dlogback.configurationFile={logback.as_uri()}",
            f"-Dcassandra.storagedir={workdir}",
            f"-Dcassandra.logdir={workdir}",
            f"-Dcassandra.triggers_dir={workdir / 'triggers'}",
            "-cp",
            CASSANDRA.classpath,
            _MAIN_CLASS,
        ]
        return spawn(cmd, log, cwd=workdir)

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        return _endpoint(self.flavour(), port, "native", workdir / "system.log")

    def listening_endpoint(self, port: int, source: str = "listening") -> Endpoint:
        label = source_label(source)
        return _endpoint(f"cassandra ({label})", port, source, None)

    def ready(self, endpoint: Endpoint) -> bool:
        if not port_open(endpoint.port, endpoint.host):
            return False  # no driver (and its error logs) until CQL listens
        try:
            return _select_release_version(endpoint) is not None
        except Exception:  # ready() never raises
            return False


def _endpoint(flavour: str, port: int, source: str, log_path: Path | None) -> Endpoint:
    return Endpoint(
        backend="cassandra",
        flavour=flavour,
        host=LOOPBACK,
        port=port,
        url=f"cassandra://{LOOPBACK}:{port}",
        source=source,
        params={"hosts": LOOPBACK, "port": str(port)},
        log_path=log_path,
    )


def _select_release_version(endpoint: Endpoint) -> str | None:
    """``release_version`` from ``system.local`` through cassandra-driver (may raise)."""
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import (
        EXEC_PROFILE_DEFAULT,
        Cluster,
        ExecutionProfile,
    )
    from cassandra.policies import (
        WhiteListRoundRobinPolicy,
    )

    profile = ExecutionProfile(
        load_balancing_policy=WhiteListRoundRobinPolicy([endpoint.host]),
        request_timeout=5.0,
    )
    cluster = Cluster(
        [endpoint.host],
        port=endpoint.port,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        connect_timeout=2.0,
        control_connection_timeout=2.0,
        auth_provider=(
            PlainTextAuthProvider(endpoint.params["username"], endpoint.params.get("password", ""))
            if endpoint.params.get("username")
            else None
        ),
    )
    quiet = logging.getLogger("cassandra")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # a refused probe is expected while the node boots
    try:
        session = cluster.connect()
        row = session.execute("SELECT release_version FROM system.local").one()
        return None if row is None else str(row.release_version)
    finally:
        cluster.shutdown()
        quiet.setLevel(level)


def _cassandra_yaml(workdir: Path, port: int, storage_port: int, authenticator: str) -> str:
    # JSON is valid YAML: no YAML library is needed to write the file.
    settings: dict[str, object] = {
        "cluster_name": "blockyard",
        "num_tokens": 1,
        "initial_token": "0",
        "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
        "endpoint_snitch": "SimpleSnitch",
        "authenticator": authenticator,
        "authorizer": "AllowAllAuthorizer",
        "seed_provider": [
            {
                "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
                "parameters": [{"seeds": f"{LOOPBACK}:{storage_port}"}],
            }
        ],
        "listen_address": LOOPBACK,
        "rpc_address": LOOPBACK,
        "storage_port": storage_port,
        "native_transport_port": port,
        "start_native_transport": True,
        "data_file_directories": [str(workdir / "data")],
        "commitlog_directory": str(workdir / "commitlog"),
        "saved_caches_directory": str(workdir / "saved_caches"),
        "hints_directory": str(workdir / "hints"),
        "cdc_raw_directory": str(workdir / "cdc_raw"),
        "commitlog_sync": "periodic",
        "commitlog_sync_period": "10000ms",
        "commitlog_segment_size": "8MiB",
        "hinted_handoff_enabled": False,
        # a shared test machine: give contended lightweight transactions time before they time out
        "cas_contention_timeout": "10000ms",
        "write_request_timeout": "10000ms",
        "auto_snapshot": False,
        "user_defined_functions_enabled": False,
    }
    return json.dumps(settings, indent=2) + "\n"


def _logback_xml(system_log: Path) -> str:
    return f"""<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>{system_log}</file>
    <encoder><pattern>%-5level [%thread] %date{{ISO8601}} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <filter class="ch.qos.logback.classic.filter.ThresholdFilter"><level>WARN</level></filter>
    <encoder><pattern>%-5level [%thread] %date{{ISO8601}} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="FILE"/>
    <appender-ref ref="STDOUT"/>
  </root>
</configuration>
"""

"""Apache Cassandra started natively from the Maven Central jars, on loopback.

The first test brings a node up through the launcher and asserts that ``down`` leaves no
process. Then one node is started for the module by the recipe, exercised with
cassandra-driver (keyspace and table, ``INSERT ... IF NOT EXISTS`` and conditional
``UPDATE`` (LWT), ``USING TTL`` expiry) and stopped; no process of its group may be left.
Skipped, with the reason, only when the recipe's ``missing()`` says it cannot run here.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from blockyard_conformance.backends import procs
from blockyard_conformance.backends.launcher import Launcher
from blockyard_conformance.backends.native.cassandra import CassandraRecipe
from blockyard_conformance.backends.recipe import Endpoint, free_port, port_open
from blockyard_conformance.real_backends import not_run, require_client

if TYPE_CHECKING:
    from cassandra.cluster import Session

pytestmark = [pytest.mark.slow, pytest.mark.backend("cassandra", own=True)]

RECIPE = CassandraRecipe()


def needs_cassandra() -> None:
    """Not run (a failure when backends are required) when Cassandra or its driver is missing here."""
    require_client("cassandra", "cassandra")
    if (reason := RECIPE.missing()) is not None:
        not_run("cassandra", reason, RECIPE.install_hint or "blockyard backends install cassandra")


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group (SIGTERM, SIGKILL after 30 s) and reap its leader."""
    procs.stop_group(proc.pid, timeout=30.0)
    proc.wait(10)


@pytest.fixture(scope="module")
def cassandra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Endpoint, subprocess.Popen[bytes]]]:
    """One node for the module, started by the recipe; the whole group is stopped after."""
    needs_cassandra()
    workdir = tmp_path_factory.mktemp("cassandra")
    port = free_port()
    log_path = workdir / "launcher.log"
    with log_path.open("wb") as log:
        proc = RECIPE.start(workdir, port, log)
    endpoint = RECIPE.endpoint(port, workdir)
    try:
        deadline = time.monotonic() + RECIPE.startup_timeout
        while not RECIPE.ready(endpoint):
            if proc.poll() is not None or time.monotonic() > deadline:
                system_log = workdir / "system.log"
                tail = system_log.read_text()[-3000:] if system_log.exists() else log_path.read_text()[-3000:]
                pytest.fail(f"Cassandra did not become ready:\n{tail}")
            time.sleep(0.5)
        yield endpoint, proc
    finally:
        stop_group(proc)
    assert proc.poll() is not None
    assert procs.group_members(proc.pid) == [], "a process of the node's group is still running"
    assert not port_open(port), "the CQL port still accepts connections"


@pytest.fixture
def session(cassandra: tuple[Endpoint, subprocess.Popen[bytes]]) -> Iterator[Session]:
    """A driver session in a fresh keyspace (dropped afterwards)."""
    endpoint, _ = cassandra
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import WhiteListRoundRobinPolicy

    profile = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy([endpoint.host]), request_timeout=30)
    cluster = Cluster(
        [endpoint.params["hosts"]],
        port=int(endpoint.params["port"]),
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
    )
    keyspace = f"ks_{uuid.uuid4().hex[:10]}"
    sess = cluster.connect()
    try:
        sess.execute(
            f"CREATE KEYSPACE {keyspace} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
        )
        sess.set_keyspace(keyspace)
        sess.execute("CREATE TABLE kv (k text PRIMARY KEY, v blob, etag bigint)")
        yield sess
        sess.execute(f"DROP KEYSPACE {keyspace}")
    finally:
        cluster.shutdown()


def test_launcher_up_and_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``Launcher().up("cassandra")`` starts the recipe natively; ``down`` leaves nothing.

    Runs first, before the module's own node exists, so two nodes never run at once.
    """
    needs_cassandra()
    monkeypatch.delenv("BLOCKYARD_CASSANDRA_URL", raising=False)
    launcher = Launcher(tmp_path / "state", use_docker=False)
    endpoint = launcher.up("cassandra", reuse=False)  # its own port, whatever holds the standard one
    try:
        assert endpoint.source == "native"
        assert "Apache Cassandra" in endpoint.flavour
        assert RECIPE.ready(endpoint)
        (status,) = launcher.status("cassandra")
        assert status.state == "ready"
        assert status.pid is not None
        pgid = status.pid
    finally:
        launcher.down("cassandra")
    assert procs.group_members(pgid) == [], "a process of the node's group is still running"
    assert not port_open(endpoint.port)


def test_endpoint_is_loopback(cassandra: tuple[Endpoint, subprocess.Popen[bytes]]) -> None:
    endpoint, _ = cassandra
    assert endpoint.host == "127.0.0.1"
    assert endpoint.params == {"hosts": "127.0.0.1", "port": str(endpoint.port)}
    assert endpoint.flavour.startswith("cassandra ")
    assert "Apache Cassandra" in endpoint.flavour


def test_lightweight_transactions(session: Session) -> None:
    first = session.execute("INSERT INTO kv (k, v, etag) VALUES ('a', 0x01, 1) IF NOT EXISTS")
    assert first.was_applied
    again = session.execute("INSERT INTO kv (k, v, etag) VALUES ('a', 0x02, 2) IF NOT EXISTS")
    assert not again.was_applied
    assert again.one().etag == 1
    stale = session.execute("UPDATE kv SET v = 0x03, etag = 3 WHERE k = 'a' IF etag = 7")
    assert not stale.was_applied
    fresh = session.execute("UPDATE kv SET v = 0x03, etag = 3 WHERE k = 'a' IF etag = 1")
    assert fresh.was_applied
    row = session.execute("SELECT v, etag FROM kv WHERE k = 'a'").one()
    assert (row.v, row.etag) == (b"\x03", 3)


def test_ttl_expires(session: Session) -> None:
    session.execute("INSERT INTO kv (k, v, etag) VALUES ('t', 0x09, 1) USING TTL 2")
    row = session.execute("SELECT v, TTL(v) AS ttl FROM kv WHERE k = 't'").one()
    assert row.v == b"\x09"
    assert 0 < row.ttl <= 2
    deadline = time.monotonic() + 10
    while session.execute("SELECT v FROM kv WHERE k = 't'").one() is not None:
        assert time.monotonic() < deadline, "the row outlived its TTL"
        time.sleep(0.25)

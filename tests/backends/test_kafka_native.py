"""Kafka started natively: Apache Kafka (KRaft, Maven Central jars) and the tansu fallback.

Each recipe is started on a free loopback port, exercised with aiokafka (admin create,
produce with key and headers, group consume with manual commit, resume in the same group),
then stopped; the test asserts that no process of its group is left. A recipe that cannot
run here (``missing()``) is skipped with its reason, never passed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from blockyard_conformance.backends import procs
from blockyard_conformance.backends.launcher import Launcher
from blockyard_conformance.backends.native._kafka_common import kafka_ready
from blockyard_conformance.backends.native.kafka import KafkaRecipe, PreferredKafkaRecipe
from blockyard_conformance.backends.native.tansu import TansuRecipe
from blockyard_conformance.backends.recipe import Endpoint, NativeRecipe, free_port, port_open
from blockyard_conformance.real_backends import not_run, require_client

pytestmark = [pytest.mark.slow, pytest.mark.backend("kafka", own=True)]

# Short group timeouts: tansu delays joins by about session_timeout/2, and the Kafka recipe
# lowers group.min.session.timeout.ms so Apache Kafka accepts them too.
GROUP_SETTINGS = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500}


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group (SIGTERM, SIGKILL after 30 s) and reap its leader."""
    procs.stop_group(proc.pid, timeout=30.0)
    proc.wait(10)


def start_and_wait(recipe: NativeRecipe, workdir: Path) -> tuple[subprocess.Popen[bytes], Endpoint]:
    """Start ``recipe`` on a free port and wait until ``ready``; fail with the log on timeout."""
    port = free_port()
    log_path = workdir / "launcher.log"
    with log_path.open("wb") as log:
        proc = recipe.start(workdir, port, log)
    endpoint = recipe.endpoint(port, workdir)
    deadline = time.monotonic() + recipe.startup_timeout
    while not recipe.ready(endpoint):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_group(proc)
            pytest.fail(f"{endpoint.flavour} did not become ready:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    return proc, endpoint


@pytest.fixture(params=[KafkaRecipe, TansuRecipe], ids=["apache-kafka", "tansu"])
def kafka(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Endpoint]:
    """A Kafka-protocol broker started by the recipe; stopped (whole group) afterwards."""
    recipe: NativeRecipe = request.param()
    require_client("aiokafka", "kafka")
    reason = recipe.missing()
    if reason is not None:
        not_run(
            "kafka", f"{request.param.__name__}: {reason}", recipe.install_hint or "blockyard backends install kafka"
        )
    proc, endpoint = start_and_wait(recipe, tmp_path)
    try:
        yield endpoint
    finally:
        stop_group(proc)
    assert proc.poll() is not None
    assert procs.group_members(proc.pid) == [], "a process of the broker's group is still running"
    assert not port_open(endpoint.port), "the broker port still accepts connections"


async def test_produce_consume_commit_resume(kafka: Endpoint) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    brokers = kafka.params["brokers"]
    assert kafka.host == "127.0.0.1"
    assert brokers == f"127.0.0.1:{kafka.port}"
    topic = f"t-{uuid.uuid4().hex[:10]}"
    group = f"g-{uuid.uuid4().hex[:10]}"

    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        assert topic in await admin.list_topics()
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=brokers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"m1", key=b"k", headers=[("h", b"v")])

        first = AIOKafkaConsumer(
            topic,
            bootstrap_servers=brokers,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **GROUP_SETTINGS,
        )
        await first.start()
        try:
            msg = await asyncio.wait_for(first.getone(), 30)
            assert (msg.key, msg.value, tuple(msg.headers)) == (b"k", b"m1", (("h", b"v"),))
            await first.commit()
            assert await first.committed(TopicPartition(topic, msg.partition)) == msg.offset + 1
        finally:
            await first.stop()

        await producer.send_and_wait(topic, b"m2", key=b"k")
    finally:
        await producer.stop()

    second = AIOKafkaConsumer(
        topic,
        bootstrap_servers=brokers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **GROUP_SETTINGS,
    )
    await second.start()
    try:
        resumed = await asyncio.wait_for(second.getone(), 30)
        assert resumed.value == b"m2", "the group did not resume after its committed offset"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(second.getone(), 1.5)
    finally:
        await second.stop()


def test_apache_kafka_binds_loopback_only(tmp_path: Path) -> None:
    recipe = KafkaRecipe()
    if (reason := recipe.missing()) is not None:
        not_run("kafka", f"Apache Kafka: {reason}", recipe.install_hint or "blockyard backends install kafka")
    proc, endpoint = start_and_wait(recipe, tmp_path)
    try:
        assert endpoint.flavour.startswith("kafka ")
        assert "Apache Kafka, KRaft" in endpoint.flavour
        props = (tmp_path / "server.properties").read_text()
        listeners = next(line for line in props.splitlines() if line.startswith("listeners="))
        assert listeners.count("127.0.0.1") == 3
        assert "0.0.0.0" not in props
        ports = _listening_ports(proc.pid)
        assert endpoint.port in ports
        proxied = int(endpoint.params["faultProxyUpstreamPort"])
        assert proxied in ports
        assert int(endpoint.params["faultProxyPort"]) not in ports  # reserved for the kit's proxy
        assert len(ports) == 3, ports  # PLAINTEXT + CONTROLLER + PROXIED, nothing else
    finally:
        stop_group(proc)
    assert procs.group_members(proc.pid) == []


def test_preferred_recipe_is_apache_kafka_when_available() -> None:
    preferred = PreferredKafkaRecipe()
    if KafkaRecipe().missing() is None:
        assert isinstance(preferred.chosen, KafkaRecipe)
    elif TansuRecipe().missing() is None:
        assert isinstance(preferred.chosen, TansuRecipe)
    else:
        assert preferred.missing() is not None


def test_launcher_up_and_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``Launcher().up("kafka")`` starts the preferred recipe natively; ``down`` leaves nothing."""
    preferred = PreferredKafkaRecipe()
    require_client("aiokafka", "kafka")
    if (reason := preferred.missing()) is not None:
        not_run("kafka", f"no native Kafka here: {reason}", "blockyard backends install kafka")
    monkeypatch.delenv("BLOCKYARD_KAFKA_URL", raising=False)
    launcher = Launcher(tmp_path / "state", use_docker=False)
    endpoint = launcher.up("kafka", reuse=False)  # its own port, whatever holds the standard one
    try:
        assert endpoint.source == "native"
        expected = "Apache Kafka" if isinstance(preferred.chosen, KafkaRecipe) else "tansu"
        assert expected in endpoint.flavour
        assert kafka_ready(endpoint)
        (status,) = launcher.status("kafka")
        assert status.state == "ready"
        assert status.pid is not None
        pgid = status.pid
    finally:
        launcher.down("kafka")
    assert procs.group_members(pgid) == [], "a process of the broker's group is still running"
    assert not port_open(endpoint.port)


def _listening_ports(pid: int) -> set[int]:
    """TCP ports in LISTEN state owned by ``pid``; every one must be bound to 127.0.0.1."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and inode in inodes:  # 0A = LISTEN
                address, port = local.rsplit(":", 1)
                assert address in ("0100007F", "0000000000000000FFFF00000100007F"), f"not loopback: {local}"
                ports.add(int(port, 16))
    return ports

"""Configuration and connection errors of state.cassandra: each one clear, none leaking a password."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from cassandra_servers import KEYSPACE, Node

from blockyard.errors import AuthenticationError, BackendUnavailableError, ComponentConfigError
from blockyard_cassandra.state import CassandraStateStore
from blockyard_conformance.testing import free_port

SECRET = "s3cr3t-" + uuid.uuid4().hex


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("keyspace", "shop; DROP KEYSPACE system", "CQL identifier"),
        ("keyspace", "1shop", "CQL identifier"),
        ("table", "orders-2024", "CQL identifier"),
        ("table", "x" * 49, "CQL identifier"),
        ("consistency", "Strongest", "consistency level"),
        ("serialConsistency", "Quorum", "serial consistency level"),
        ("protoVersion", "1", "protocol version"),
        ("replicationFactor", "0", ">= 1"),
        ("port", "70000", "TCP port"),
    ],
)
def test_bad_metadata_names_the_field(field: str, value: str, expected: str) -> None:
    with pytest.raises(ComponentConfigError) as info:
        CassandraStateStore({"hosts": "127.0.0.1", field: value, "password": SECRET}, name="statestore")
    assert field in str(info.value)
    assert expected in str(info.value)
    assert value not in str(info.value)
    assert SECRET not in str(info.value)


def test_hosts_is_required() -> None:
    with pytest.raises(ComponentConfigError) as info:
        CassandraStateStore({"keyspace": "shop"}, name="statestore")
    assert "hosts" in str(info.value)


def test_metadata_names_are_case_insensitive_and_consistency_is_normalised() -> None:
    store = CassandraStateStore(
        {"HOSTS": "a, b", "Consistency": "localquorum", "SERIALCONSISTENCY": "localserial", "KeySpace": "Shop"}
    )
    assert store.meta.hosts == ["a", "b"]
    assert store.meta.consistency == "LocalQuorum"
    assert store.meta.serial_consistency == "LocalSerial"
    assert store.meta.keyspace == "shop"


def test_password_is_not_in_the_repr() -> None:
    store = CassandraStateStore({"hosts": "127.0.0.1", "username": "app", "password": SECRET}, name="statestore")
    assert SECRET not in repr(store)
    assert SECRET not in repr(store.meta)


@pytest.mark.slow
async def test_unreachable_hosts_fail_within_the_connect_timeout(caplog: pytest.LogCaptureFixture) -> None:
    md = {"hosts": "127.0.0.1", "port": str(free_port()), "connectTimeout": "2s", "password": SECRET}
    store = CassandraStateStore(md, name="statestore")
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG), pytest.raises(BackendUnavailableError) as info:
        await store.init()
    assert time.monotonic() - started < 30  # the connect timeout is 2 s; generous for a shared machine
    assert info.value.component == "statestore"
    assert info.value.operation == "init"
    assert SECRET not in str(info.value)
    assert SECRET not in caplog.text
    await store.close()


@pytest.mark.slow
async def test_unsatisfiable_consistency_is_backend_unavailable(cassandra_node: Node, table: str) -> None:
    """Replication factor 2 on one node: writes at consistency All cannot succeed."""
    keyspace = f"ks_rf2_{uuid.uuid4().hex[:8]}"
    md = cassandra_node.metadata(keyspace=keyspace, table=table, replicationFactor="2", consistency="All")
    async with CassandraStateStore(md, name="statestore") as store:
        with pytest.raises(BackendUnavailableError) as info:
            await store.set("k", 1)
        assert info.value.key == "k"
        assert "Unavailable" in str(info.value)
        await store.set("k", 1, consistency="eventual")  # consistency One: one replica is enough
    from cassandra.cluster import Cluster

    cluster = Cluster([cassandra_node.host], port=cassandra_node.port)
    cluster.connect().execute(f"DROP KEYSPACE {keyspace}")
    cluster.shutdown()


@pytest.mark.slow
class TestPasswordAuthentication:
    """Against a node of our own with ``PasswordAuthenticator``."""

    async def test_right_password_connects(self, cassandra_password_node: Node, table: str) -> None:
        async with CassandraStateStore(
            cassandra_password_node.metadata(keyspace=KEYSPACE, table=table), name="statestore"
        ) as store:
            etag = await store.set("k", 1)
            assert (await store.get("k")).etag == etag

    async def test_wrong_password_is_an_authentication_error_and_never_logged(
        self, cassandra_password_node: Node, caplog: pytest.LogCaptureFixture
    ) -> None:
        md = cassandra_password_node.metadata(password=SECRET)
        store = CassandraStateStore(md, name="statestore")
        with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as info:
            await store.init()
        assert info.value.component == "statestore"
        assert "credentials" in str(info.value).lower() or "authenticat" in str(info.value).lower()
        assert SECRET not in str(info.value)
        assert SECRET not in repr(info.value)
        assert SECRET not in caplog.text
        assert not store.ready
        await store.close()

    async def test_no_credentials_on_a_password_node_is_an_authentication_error(
        self, cassandra_password_node: Node
    ) -> None:
        md = {"hosts": cassandra_password_node.host, "port": str(cassandra_password_node.port)}
        with pytest.raises(AuthenticationError):
            await CassandraStateStore(md, name="statestore").init()


def test_a_timed_out_lightweight_transaction_says_its_outcome_is_unknown() -> None:
    from cassandra import WriteTimeout
    from cassandra.policies import WriteType

    store = CassandraStateStore({"hosts": "127.0.0.1"}, name="statestore")
    cas = WriteTimeout(
        "CAS operation timed out", consistency=1, required_responses=1, received_responses=0, write_type=WriteType.CAS
    )
    err = store._wrap(cas, "set", "k")
    assert isinstance(err, BackendUnavailableError)
    assert "outcome is unknown" in str(err)
    assert err.__cause__ is cas
    plain = WriteTimeout(
        "timed out", consistency=1, required_responses=1, received_responses=0, write_type=WriteType.SIMPLE
    )
    assert "outcome is unknown" not in str(store._wrap(plain, "set", "k"))
    assert isinstance(store._wrap(plain, "set", "k"), BackendUnavailableError)


@pytest.mark.slow
async def test_host_verification_needs_a_tls_node(cassandra_node: Node) -> None:
    """``enableHostVerification`` connects over TLS: the launcher's plaintext node cannot answer it."""
    md = cassandra_node.metadata(enableHostVerification="true", connectTimeout="2s")
    store = CassandraStateStore(md, name="statestore")
    with pytest.raises(BackendUnavailableError) as info:
        await store.init()
    assert info.value.operation == "init"
    await store.close()

"""Fixtures: the launcher's Cassandra (session), a password-protected node of our own (session, started
only by the tests that need it), a fresh table per test, and a raw driver session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from cassandra_servers import KEYSPACE, Node, launcher_node, password_node

from blockyard_cassandra.state import CassandraStateStore


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests reaching a real server through these fixtures carry ``backend(name)`` (counted, decided up front)."""
    try:
        from blockyard_conformance.real_backends import mark_backend_fixtures
    except ImportError:  # the kit is not installed: the fixtures skip without it
        return
    mark_backend_fixtures(items, cassandra_node="cassandra", cassandra_password_node="cassandra")


@pytest.fixture(scope="session")
def cassandra_node() -> Node:
    """The launcher's ``cassandra`` backend (no password)."""
    return launcher_node()


@pytest.fixture(scope="session")
def cassandra_password_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A node with ``PasswordAuthenticator``, started here from the launcher's recipe."""
    yield from password_node(tmp_path_factory.mktemp("cassandra-auth"))


@pytest.fixture
def table() -> str:
    """A fresh table name per test (in the shared test keyspace)."""
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def store(cassandra_node: Node, table: str) -> AsyncIterator[CassandraStateStore]:
    async with CassandraStateStore(cassandra_node.metadata(keyspace=KEYSPACE, table=table), name="statestore") as s:
        yield s


@pytest.fixture
def raw(cassandra_node: Node) -> Iterator[Any]:
    """A plain cassandra-driver session on the same node, to observe what the store wrote."""
    from cassandra.cluster import Cluster

    cluster = Cluster([cassandra_node.host], port=cassandra_node.port)
    session = cluster.connect()
    yield session
    cluster.shutdown()

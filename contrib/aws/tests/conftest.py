"""Fixtures: the launcher's moto server (shared, namespaced per test), a moto server of our own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from aws_servers import Aws, MotoProcess, launcher_aws


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests reaching a real server through these fixtures carry ``backend(name)`` (counted, decided up front)."""
    try:
        from blockyard_conformance.real_backends import mark_backend_fixtures
    except ImportError:  # the kit is not installed: the fixtures skip without it
        return
    mark_backend_fixtures(items, aws="aws", own_moto="aws")


@pytest.fixture(scope="session")
def aws() -> Aws:
    """The launcher's ``aws`` backend (moto). Never reset: name everything with :func:`ns`."""
    return launcher_aws()


@pytest.fixture(scope="session")
def own_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoProcess]:
    """A moto server started for these tests (fault injection, restarts, authentication)."""
    proc = MotoProcess(tmp_path_factory.mktemp("moto"))
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def ns() -> str:
    """A fresh name for this test's table, bucket, queue, topic or secret."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def table(aws: Aws, ns: str) -> Iterator[str]:
    """A DynamoDB table of this test (hash key ``key``), deleted afterwards."""
    client = aws.client("dynamodb")
    client.create_table(
        TableName=ns,
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield ns
    client.delete_table(TableName=ns)

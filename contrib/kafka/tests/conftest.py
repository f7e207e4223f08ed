"""Fixtures: the launcher's Kafka brokers (plain, SASL, TLS client certificates) and a raw aiokafka admin client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from kafka_servers import Broker, launcher_broker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests reaching a real server through these fixtures carry ``backend(name)`` (counted, decided up front)."""
    try:
        from blockyard_conformance.real_backends import mark_backend_fixtures
    except ImportError:  # the kit is not installed: the fixtures skip without it
        return
    mark_backend_fixtures(items, kafka="kafka", kafka_sasl="kafka-sasl", kafka_mtls="kafka-mtls")


@pytest.fixture(scope="session")
def kafka() -> Broker:
    """The plain Kafka broker (no authentication)."""
    return launcher_broker("kafka")


@pytest.fixture(scope="session")
def kafka_sasl() -> Broker:
    """The Kafka broker whose listener needs SASL (PLAIN, SCRAM-SHA-256/512); no topic auto-creation."""
    return launcher_broker("kafka-sasl")


@pytest.fixture(scope="session")
def kafka_mtls() -> Broker:
    """The Kafka broker whose listener needs a TLS client certificate; no topic auto-creation."""
    return launcher_broker("kafka-mtls")


@pytest.fixture
async def admin(kafka: Broker) -> AsyncIterator[object]:
    """A raw aiokafka admin client on the plain broker, to look at what the components did."""
    from aiokafka.admin import AIOKafkaAdminClient

    client = AIOKafkaAdminClient(bootstrap_servers=kafka.brokers)
    await client.start()
    yield client
    await client.close()

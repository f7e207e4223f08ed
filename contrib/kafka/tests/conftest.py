"""Fixtures: the launcher's Kafka brokers (plain and SASL) and a raw aiokafka admin client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from kafka_servers import Broker, launcher_broker


@pytest.fixture(scope="session")
def kafka() -> Broker:
    """The plain Kafka broker (no authentication)."""
    return launcher_broker("kafka")


@pytest.fixture(scope="session")
def kafka_sasl() -> Broker:
    """The Kafka broker whose listener needs SASL (PLAIN, SCRAM-SHA-256/512); no topic auto-creation."""
    return launcher_broker("kafka-sasl")


@pytest.fixture
async def admin(kafka: Broker) -> AsyncIterator[object]:
    """A raw aiokafka admin client on the plain broker, to look at what the components did."""
    from aiokafka.admin import AIOKafkaAdminClient

    client = AIOKafkaAdminClient(bootstrap_servers=kafka.brokers)
    await client.start()
    yield client
    await client.close()

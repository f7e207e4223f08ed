"""What the suites cannot know: bad credentials, unreachable brokers, missing topics, oversized
messages, and that the SASL password never reaches a log, a repr or an error."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kafka_servers import Broker, fresh

from blockyard.errors import AuthenticationError, BackendUnavailableError, ComponentConfigError, InvalidRequestError
from blockyard.pubsub import Message
from blockyard_kafka.binding import KafkaBinding
from blockyard_kafka.pubsub import KafkaPubSub


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("mechanism", ["PLAINTEXT", "SHA-256", "SHA-512"])
async def test_wrong_sasl_password_is_an_authentication_error(
    kafka_sasl: Broker, mechanism: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + (kafka_sasl.password or "")
    md = kafka_sasl.metadata(saslPassword=wrong, saslMechanism=mechanism, dialTimeout="10s")
    pubsub = KafkaPubSub(md, name="bad-login")
    with pytest.raises(AuthenticationError) as raised:
        await pubsub.init()
    await pubsub.close()
    assert "bad-login" in str(raised.value)
    for text in (str(raised.value), repr(pubsub), repr(pubsub.meta), caplog.text):
        assert wrong not in text


@pytest.mark.parametrize("mechanism", ["PLAINTEXT", "SHA-256", "SHA-512"])
async def test_every_sasl_mechanism_publishes_and_subscribes(
    kafka_sasl: Broker, mechanism: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    topic, got = fresh(), asyncio.Event()

    async def handler(message: Message) -> None:
        got.set()

    async with (
        KafkaPubSub(kafka_sasl.metadata(saslMechanism=mechanism), name="sasl") as pubsub,
        await pubsub.subscribe(topic, handler, consumer_group=fresh("g")),
    ):
        await pubsub.publish(topic, b"hello")
        await asyncio.wait_for(got.wait(), 30)
    assert kafka_sasl.password
    assert kafka_sasl.password not in caplog.text


async def test_refused_brokers_fail_init_at_once() -> None:
    md = {"brokers": f"127.0.0.1:{closed_port()}", "authType": "none", "dialTimeout": "20s"}
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as raised:
        await KafkaPubSub(md, name="refused").init()
    assert time.monotonic() - started < 20
    assert "127.0.0.1" in str(raised.value)


async def test_silent_brokers_fail_init_after_dial_timeout(silent_port: int) -> None:
    md = {"brokers": f"127.0.0.1:{silent_port}", "authType": "none", "dialTimeout": "1500ms", "readTimeout": "60s"}
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as raised:
        await KafkaBinding({**md, "publishTopic": "x"}, name="silent").init()
    elapsed = time.monotonic() - started
    assert "dialTimeout" in str(raised.value)
    assert 1.4 <= elapsed < 30, f"init gave up after {elapsed:.1f} s, not after dialTimeout"


async def test_missing_topic_with_create_topics_off(kafka: Broker, admin: Any) -> None:
    topic = fresh("missing")
    md = kafka.metadata(createTopics="false")

    async def handler(message: Message) -> None:
        return None

    async with KafkaPubSub(md, name="strict") as pubsub:
        with pytest.raises(InvalidRequestError) as raised:
            await pubsub.publish(topic, b"x")
        assert topic in str(raised.value)
        assert "createTopics" in str(raised.value)
        with pytest.raises(InvalidRequestError):
            await pubsub.subscribe(topic, handler)
    with pytest.raises(InvalidRequestError):
        await KafkaBinding({**md, "publishTopic": topic}, name="strict-binding").init()
    assert topic not in await admin.list_topics(), "a topic was created although createTopics is false"


async def test_an_invalid_topic_name_is_refused_naming_the_broker_s_reason(kafka: Broker) -> None:
    async with KafkaPubSub(kafka.metadata(), name="names") as pubsub:
        with pytest.raises(InvalidRequestError, match="cannot create topic 'bad topic!': InvalidTopicError"):
            await pubsub.publish("bad topic!", b"x")


async def test_topic_is_created_with_the_configured_partitions(kafka: Broker, admin: Any) -> None:
    topic = fresh("created")
    async with KafkaPubSub(kafka.metadata(partitions="3"), name="creator") as pubsub:
        await pubsub.publish(topic, b"x")
    (described,) = await admin.describe_topics([topic])
    assert len(described["partitions"]) == 3


async def test_oversized_message_is_refused_before_sending(kafka: Broker, admin: Any) -> None:
    topic = fresh("big")
    bare = {"rawPayload": "true"}  # the limit is on the bytes sent: no envelope around them here
    async with KafkaPubSub(kafka.metadata(maxMessageBytes="1Ki"), name="small") as pubsub:
        await pubsub.publish(topic, b"x" * 1000, metadata=bare)
        with pytest.raises(InvalidRequestError) as raised:
            await pubsub.publish(topic, b"x" * 2000, metadata=bare)
        assert "maxMessageBytes" in str(raised.value)
        size = re.search(r"message of (\d+) bytes", str(raised.value))
        assert size is not None
        assert int(size.group(1)) >= 2000  # the record as sent: value, key and headers
        with pytest.raises(InvalidRequestError, match="message of 1045 bytes"):  # 1000 + headers 14 + 31
            await pubsub.publish(topic, b"x" * 1000, metadata={**bare, "h": "y" * 30})
        await pubsub.publish(topic, b"y", metadata=bare)
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.brokers)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, 0)])
    finally:
        await consumer.stop()
    assert ends[TopicPartition(topic, 0)] == 2, "the oversized message must not reach the topic"


async def test_broker_limit_is_an_invalid_request(kafka: Broker) -> None:
    """A message the broker refuses (over its 1 MB message.max.bytes) is a clear error too."""
    async with KafkaPubSub(kafka.metadata(maxMessageBytes="4Mi"), name="large") as pubsub:
        with pytest.raises(InvalidRequestError):
            await pubsub.publish(fresh("huge"), b"x" * (2 * 1024 * 1024))


@pytest.mark.parametrize("codec", ["snappy", "lz4", "zstd"])
async def test_compression_without_its_codec_is_a_config_error(codec: str) -> None:
    import aiokafka.codec

    if getattr(aiokafka.codec, f"has_{codec}")():
        pytest.skip(f"the {codec} codec is installed here")
    md = {"brokers": f"127.0.0.1:{closed_port()}", "authType": "none", "compression": codec}
    with pytest.raises(ComponentConfigError) as raised:
        await KafkaPubSub(md, name="codec").init()
    assert "compression" in str(raised.value)
    assert codec in str(raised.value)


async def test_the_launchers_probe_is_quiet_where_a_component_warns(
    kafka_sasl: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    """aiokafka warns that SASL PLAIN without TLS sends the password in the clear: a component's
    user sees it; the launcher's readiness probe of its own loopback broker does not print it."""
    from blockyard_conformance.backends.native._kafka_common import kafka_metadata_ok

    clear = "Sending username and password in the clear"
    caplog.set_level(logging.WARNING, logger="aiokafka")
    security = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"}
    credentials = {"sasl_plain_username": kafka_sasl.username, "sasl_plain_password": kafka_sasl.password}
    assert await kafka_metadata_ok(kafka_sasl.brokers, 30.0, **security, **credentials)
    assert clear not in caplog.text
    async with KafkaPubSub(kafka_sasl.metadata(saslMechanism="PLAINTEXT"), name="sasl"):
        pass
    assert clear in caplog.text

"""bindings.kafka: create with key and headers, read from several topics in a consumer group."""

from __future__ import annotations

import asyncio

import pytest
from kafka_servers import Broker, eventually, fresh

from blockyard.bindings import BindingEvent
from blockyard.errors import InvalidRequestError, NotSupportedError
from blockyard_kafka.binding import KafkaBinding


async def test_create_and_read_several_topics(kafka: Broker) -> None:
    orders, returns = fresh("orders"), fresh("returns")
    events: list[BindingEvent] = []

    async def handler(event: BindingEvent) -> None:
        events.append(event)

    md = kafka.metadata(topics=f"{orders},{returns}", publishTopic=orders, consumerGroup=fresh("g"))
    async with (
        KafkaBinding(md, name="jobs") as binding,
        KafkaBinding({**md, "publishTopic": returns}, name="returns") as other,
        await binding.read(handler),
    ):
        await binding.invoke("create", b"order-1", metadata={"partitionKey": "tenant-1", "source": "web"})
        await other.invoke("create", {"return": 1})
        await eventually(lambda: len(events) == 2)
    by_topic = {e.metadata["topic"]: e for e in events}
    assert by_topic[orders].data == b"order-1"
    assert by_topic[orders].metadata["__key"] == "tenant-1"
    assert by_topic[orders].metadata["source"] == "web"
    assert by_topic[returns].json() == {"return": 1}


async def test_failed_event_is_retried_before_the_next(kafka: Broker) -> None:
    topic, seen = fresh(), []
    fail = True

    async def handler(event: BindingEvent) -> None:
        nonlocal fail
        seen.append(event.data)
        if event.data == b"a" and fail:
            fail = False
            raise RuntimeError("simulated failure")

    md = kafka.metadata(topics=topic, publishTopic=topic, consumeRetryInterval="10ms")
    async with KafkaBinding(md, name="retrying") as binding, await binding.read(handler):
        await binding.invoke("create", b"a")
        await binding.invoke("create", b"b")
        await eventually(lambda: b"b" in seen)
    assert seen == [b"a", b"a", b"b"]


async def test_output_only_and_input_only_bindings(kafka: Broker) -> None:
    topic = fresh()
    async with KafkaBinding(kafka.metadata(topics=topic), name="input-only") as reader:
        with pytest.raises(InvalidRequestError, match="publishTopic"):
            await reader.invoke("create", b"x")
        with pytest.raises(NotSupportedError):
            await reader.invoke("delete")
    async with KafkaBinding(kafka.metadata(publishTopic=topic), name="output-only") as writer:
        with pytest.raises(InvalidRequestError, match="topics"):
            await writer.read(lambda event: asyncio.sleep(0))

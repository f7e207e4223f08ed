"""pubsub.kafka giving up on a failed record: ``backOffMaxRetries``, then the dead-letter topic or a
skip, against the real broker."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from kafka_servers import Broker, eventually, fresh

from blockyard.errors import ComponentConfigError
from blockyard.pubsub import BulkPublishEntry, HandlerResult, Message
from blockyard_kafka.pubsub import KafkaPubSub


async def test_a_record_past_its_retries_is_skipped_and_logged_without_its_payload(
    kafka: Broker, admin: Any, caplog: pytest.LogCaptureFixture
) -> None:
    topic, group, seen = fresh(), fresh("g"), []

    async def handler(message: Message) -> HandlerResult | None:
        seen.append(message.data)
        return HandlerResult.RETRY if message.data.startswith(b"secret") else None

    md = kafka.metadata(consumeRetryInterval="10ms", backOffMaxRetries="2")
    caplog.set_level(logging.WARNING)
    async with (
        KafkaPubSub(md, name="limited") as pubsub,
        await pubsub.subscribe(topic, handler, consumer_group=group),
    ):
        await pubsub.publish(topic, b"secret payload")
        await pubsub.publish(topic, b"next")
        await eventually(lambda: b"next" in seen)
        await eventually(lambda: _committed_is(admin, group, topic, {0: 2}))
    assert seen == [b"secret payload"] * 3 + [b"next"]  # the first try, 2 retries, then the next record
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert skipped == [f"component 'limited': message 0/0 of {topic!r} failed after 2 retries and is skipped "
                       "(backOffMaxRetries, consumeRetryEnabled)"]  # fmt: skip
    assert not any("secret" in r.getMessage() for r in caplog.records)


async def _committed_is(admin: Any, group: str, topic: str, want: dict[int, int]) -> bool:
    offsets = await admin.list_consumer_group_offsets(group)
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic} == want


async def test_component_retries_come_before_the_dead_letter_topic(kafka: Broker) -> None:
    topic, dead, calls, forwarded = fresh(), fresh("dead"), [], []

    async def handler(message: Message) -> HandlerResult | None:
        calls.append(message.data)
        return HandlerResult.RETRY if message.data == b"poison" else None

    async def dead_letters(message: Message) -> None:
        forwarded.append(message)

    md = kafka.metadata(consumeRetryInterval="10ms", backOffMaxRetries="3")
    async with (
        KafkaPubSub(md, name="dlq") as pubsub,
        await pubsub.subscribe(dead, dead_letters, consumer_group=fresh("g")),
        await pubsub.subscribe(topic, handler, consumer_group=fresh("g"), dead_letter_topic=dead),
    ):
        await pubsub.publish(topic, b"poison", metadata={"cloudevent.id": "ev-7"})
        await pubsub.publish(topic, b"after")
        await eventually(lambda: bool(forwarded) and b"after" in calls)
    assert calls == [b"poison"] * 4 + [b"after"]
    (got,) = forwarded
    assert (got.data, got.event and got.event.id, got.event and got.event.topic) == (b"poison", "ev-7", topic)


async def test_without_a_limit_a_dead_letter_topic_takes_the_first_failure(kafka: Broker) -> None:
    topic, dead, calls, forwarded = fresh(), fresh("dead"), [], []

    async def handler(message: Message) -> HandlerResult:
        calls.append(message.data)
        return HandlerResult.DROP

    async def dead_letters(message: Message) -> None:
        forwarded.append(message.data)

    async with (
        KafkaPubSub(kafka.metadata(consumeRetryInterval="10ms"), name="dlq") as pubsub,
        await pubsub.subscribe(dead, dead_letters, consumer_group=fresh("g")),
        await pubsub.subscribe(topic, handler, consumer_group=fresh("g"), dead_letter_topic=dead),
    ):
        await pubsub.publish(topic, b"dropped")
        await eventually(lambda: bool(forwarded))
    assert (calls, forwarded) == ([b"dropped"], [b"dropped"])


async def test_bulk_subscribe_dead_letters_each_record_past_its_retries(kafka: Broker, admin: Any) -> None:
    topic, group, dead, forwarded = fresh(), fresh("g"), fresh("dead"), []
    deliveries: list[bytes] = []

    async def handler(messages: list[Message]) -> dict[str, HandlerResult]:
        deliveries.extend(m.data for m in messages)
        return {m.id or "": HandlerResult.RETRY for m in messages if m.data in (b"m1", b"m4")}

    async def dead_letters(message: Message) -> None:
        forwarded.append(message.data)

    md = kafka.metadata(consumeRetryInterval="10ms", backOffMaxRetries="1")
    async with (
        KafkaPubSub(md, name="bulk-dlq") as pubsub,
        await pubsub.subscribe(dead, dead_letters, consumer_group=fresh("g")),
        await pubsub.bulk_subscribe(
            topic,
            handler,
            consumer_group=group,
            max_messages=10,
            max_await=timedelta(milliseconds=200),
            dead_letter_topic=dead,
        ),
    ):
        await pubsub.bulk_publish(topic, [BulkPublishEntry(str(n), f"m{n}".encode()) for n in range(6)])
        await eventually(lambda: len(forwarded) == 2)
        await eventually(lambda: _committed_is(admin, group, topic, {0: 6}))
    assert sorted(forwarded) == [b"m1", b"m4"]
    assert deliveries.count(b"m1") == deliveries.count(b"m4") == 2  # the first try and 1 retry
    assert sorted(set(deliveries)) == [f"m{n}".encode() for n in range(6)]


@pytest.mark.parametrize("bad", ["-2", "many"])
def test_a_bad_retry_limit_is_refused(bad: str) -> None:
    with pytest.raises(ComponentConfigError, match="backOffMaxRetries"):
        KafkaPubSub({"brokers": "localhost:9092", "authType": "none", "backOffMaxRetries": bad}, name="bad")

"""Kafka-specific delivery semantics of pubsub.kafka against the real broker."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from kafka_servers import Broker, eventually, fresh

from blockyard.pubsub import BulkPublishEntry, HandlerResult, Message
from blockyard_kafka.pubsub import KafkaPubSub


async def committed(admin: Any, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets on ``topic`` by partition."""
    offsets = await admin.list_consumer_group_offsets(group)
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


async def test_headers_key_and_content_type_round_trip(kafka: Broker) -> None:
    topic, got = fresh(), asyncio.Queue[Message]()
    async with (
        KafkaPubSub(kafka.metadata(), name="meta") as pubsub,
        await pubsub.subscribe(topic, got.put, consumer_group=fresh("g")),
    ):
        await pubsub.publish(
            topic,
            {"id": 1},
            metadata={"partitionKey": "customer-7", "traceparent": "00-abc-01", "tenant": "ü"},
            content_type="application/json",
        )
        message = await asyncio.wait_for(got.get(), 30)
    assert message.json() == {"id": 1}
    assert message.content_type == "application/json"
    assert message.metadata["__key"] == "customer-7"
    assert message.metadata["traceparent"] == "00-abc-01"
    assert message.metadata["tenant"] == "ü"
    assert "partitionKey" not in message.metadata
    assert message.id == f"{message.metadata['__partition']}/{message.metadata['__offset']}"


async def test_retry_holds_the_partition_until_success_then_commits(kafka: Broker, admin: Any) -> None:
    """A RETRY is delivered again (with backoff) before the next message of its partition."""
    topic, group = fresh(), fresh("g")
    seen: list[str] = []
    attempts = 0

    async def handler(message: Message) -> HandlerResult | None:
        nonlocal attempts
        body = message.data.decode()
        seen.append(body)
        if body == "first" and attempts < 3:
            attempts += 1
            return HandlerResult.RETRY
        return None

    async with (
        KafkaPubSub(kafka.metadata(consumeRetryInterval="20ms"), name="retry") as pubsub,
        await pubsub.subscribe(topic, handler, consumer_group=group),
    ):
        await pubsub.publish(topic, b"first")
        await pubsub.publish(topic, b"second")
        await eventually(lambda: "second" in seen)
        await eventually(lambda: _is(admin, group, topic, {0: 2}))
    assert seen == ["first", "first", "first", "first", "second"]


async def _is(admin: Any, group: str, topic: str, want: dict[int, int]) -> bool:
    return await committed(admin, group, topic) == want


async def test_retry_disabled_skips_the_failed_message(kafka: Broker) -> None:
    topic, seen = fresh(), []

    async def handler(message: Message) -> HandlerResult | None:
        seen.append(message.data)
        return HandlerResult.RETRY if message.data == b"bad" else None

    md = kafka.metadata(consumeRetryEnabled="false")
    async with (
        KafkaPubSub(md, name="no-retry") as pubsub,
        await pubsub.subscribe(topic, handler, consumer_group=fresh("g")),
    ):
        await pubsub.publish(topic, b"bad")
        await pubsub.publish(topic, b"good")
        await eventually(lambda: b"good" in seen)
    assert seen == [b"bad", b"good"]


async def test_drop_commits_and_retry_comes_back_to_the_next_member(kafka: Broker, admin: Any) -> None:
    """DROP is committed; a message whose handler was interrupted is handed to the next member."""
    topic, group = fresh(), fresh("g")
    first_seen: list[bytes] = []
    blocked, release = asyncio.Event(), asyncio.Event()

    async def first(message: Message) -> HandlerResult | None:
        first_seen.append(message.data)
        if message.data == b"drop-me":
            return HandlerResult.DROP
        blocked.set()
        await release.wait()  # never released: the subscription is cancelled with it in hand
        return None

    async with KafkaPubSub(kafka.metadata(), name="drop") as pubsub:
        sub = await pubsub.subscribe(topic, first, consumer_group=group)
        await pubsub.publish(topic, b"drop-me")
        await pubsub.publish(topic, b"in-hand")
        await asyncio.wait_for(blocked.wait(), 30)
        await sub.cancel()
        assert await committed(admin, group, topic) == {0: 1}
        second: list[bytes] = []

        async def record(message: Message) -> None:
            second.append(message.data)

        async with await pubsub.subscribe(topic, record, consumer_group=group):
            await eventually(lambda: second == [b"in-hand"])
    assert first_seen == [b"drop-me", b"in-hand"]


async def test_initial_offset_oldest_reads_what_came_before(kafka: Broker) -> None:
    topic, got = fresh(), asyncio.Queue[Message]()
    async with KafkaPubSub(kafka.metadata(initialOffset="oldest"), name="oldest") as pubsub:
        await pubsub.publish(topic, b"before")
        async with await pubsub.subscribe(topic, got.put, consumer_group=fresh("g")):
            assert (await asyncio.wait_for(got.get(), 30)).data == b"before"


async def test_order_per_key_across_partitions(kafka: Broker) -> None:
    """With 4 partitions, each key's messages arrive in publish order (ORDERED is not declared)."""
    topic = fresh()
    keys = [f"k{i}" for i in range(8)]
    per_key: dict[str, list[int]] = {k: [] for k in keys}

    async def handler(message: Message) -> None:
        key, n = message.data.decode().split(":")
        per_key[key].append(int(n))

    async with KafkaPubSub(kafka.metadata(partitions="4"), name="keys") as pubsub:
        assert "ORDERED" not in pubsub.features
        async with await pubsub.subscribe(topic, handler, consumer_group=fresh("g")):
            await pubsub.bulk_publish(
                topic,
                [
                    BulkPublishEntry(f"{k}-{n}", f"{k}:{n}".encode(), metadata={"partitionKey": k})
                    for n in range(25)
                    for k in keys
                ],
            )
            await eventually(lambda: all(len(v) == 25 for v in per_key.values()))
    for key, seqs in per_key.items():
        assert seqs == list(range(25)), f"key {key} out of order"


async def test_bulk_subscribe_batches_and_retries(kafka: Broker, admin: Any) -> None:
    topic, group = fresh(), fresh("g")
    batches: list[list[str]] = []
    failed_once: set[str] = set()

    async def handler(messages: list[Message]) -> dict[str, HandlerResult]:
        batches.append([m.data.decode() for m in messages])
        results = {}
        for m in messages:
            if m.data == b"m3" and "m3" not in failed_once:
                failed_once.add("m3")
                results[m.id or ""] = HandlerResult.RETRY
        return results

    async with KafkaPubSub(kafka.metadata(), name="bulk") as pubsub:
        sub = await pubsub.bulk_subscribe(
            topic, handler, consumer_group=group, max_messages=4, max_await=timedelta(milliseconds=100)
        )
        async with sub:
            await pubsub.bulk_publish(topic, [BulkPublishEntry(str(n), f"m{n}".encode()) for n in range(10)])
            await eventually(lambda: sum(len(b) for b in batches) >= 11)
            await eventually(lambda: _is(admin, group, topic, {0: 10}))
    assert max(len(b) for b in batches) <= 4
    delivered = [m for b in batches for m in b]
    assert sorted(set(delivered)) == sorted(f"m{n}" for n in range(10))
    assert delivered.count("m3") == 2, "the failed message is delivered again, alone"


async def test_gzip_compression_round_trip(kafka: Broker) -> None:
    topic, got = fresh(), asyncio.Queue[Message]()
    payload = b"compressible " * 500
    async with (
        KafkaPubSub(kafka.metadata(compression="gzip"), name="gzip") as pubsub,
        await pubsub.subscribe(topic, got.put, consumer_group=fresh("g")),
    ):
        await pubsub.publish(topic, payload)
        assert (await asyncio.wait_for(got.get(), 30)).data == payload

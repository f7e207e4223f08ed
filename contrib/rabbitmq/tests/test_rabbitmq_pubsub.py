"""pubsub.rabbitmq against a real broker: confirms, acks, redelivery, dead letters, TTLs, routing,
consumer groups, bulk publish, concurrency modes, reconnects."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections import Counter
from typing import Any

import pytest
from rabbitmq_testing import Admin, Broker, Namespace, wait_until

from blockyard.errors import BulkError, ComponentConfigError, NotSupportedError
from blockyard.pubsub import BulkPublishEntry, HandlerResult, Message, PubSubFeature
from blockyard_rabbitmq.pubsub import RabbitMQPubSub

pytestmark = pytest.mark.backend("rabbitmq")


def make(broker: Broker, ns: Namespace, **extra: Any) -> RabbitMQPubSub:
    meta = {"connectionString": broker.url, "consumerID": ns.group(), "reconnectWaitSeconds": "0.3s", **extra}
    return RabbitMQPubSub(meta, name="rmq")


class Recorder:
    """A handler that records messages and answers with a scripted result."""

    def __init__(self, script: Any = None) -> None:
        self.messages: list[Message] = []
        self.script = script

    async def __call__(self, message: Message) -> HandlerResult | None:
        self.messages.append(message)
        if self.script is not None:
            return self.script(message, len(self.messages))  # type: ignore[no-any-return]
        return None

    @property
    def payloads(self) -> list[bytes]:
        return [m.data for m in self.messages if m.data != END]


END = b"end-of-test"
"""Published last: once a consumer has it, the messages before it have been handled (one queue, in order)."""


async def drain(ps: RabbitMQPubSub, topic: str, *recorders: Recorder, **publish: Any) -> None:
    """Publish :data:`END` and wait until every recorder (each one queue) has received it."""
    await ps.publish(topic, END, **publish)
    await wait_until(lambda: all(END in [m.data for m in r.messages] for r in recorders), what="the end marker")


async def test_round_trip_with_content_type_and_routing_key(broker: Broker, ns: Namespace) -> None:
    topic = ns.topic()
    ns.queue(f"{ns.group()}-{topic}")
    async with make(broker, ns) as ps:
        rec = Recorder()
        async with await ps.subscribe(topic, rec):
            await ps.publish(topic, {"a": 1}, content_type="application/json", metadata={"routingKey": "k1"})
            await wait_until(lambda: len(rec.messages) == 1, what="the message")
    m = rec.messages[0]
    assert (m.topic, m.json(), m.content_type, m.metadata) == (
        topic,
        {"a": 1},
        "application/json",
        {"routingKey": "k1"},
    )


async def test_publish_returns_after_the_broker_has_the_message(broker: Broker, ns: Namespace, admin: Admin) -> None:
    topic = ns.topic()
    queue = ns.queue(f"{ns.group()}-{topic}")
    async with make(broker, ns, deletedWhenUnused="false") as ps:
        sub = await ps.subscribe(topic, Recorder())
        await sub.cancel()  # the queue stays, bound, without a consumer
        await asyncio.gather(*(ps.publish(topic, f"m{i}".encode()) for i in range(200)))
        assert admin.count(queue) == 200  # confirmed means enqueued: no wait needed


async def test_consumer_groups_compete_inside_and_fan_out_across(broker: Broker, ns: Namespace) -> None:
    topic = ns.topic()
    g1, g2 = ns.group("a"), ns.group("b")
    ns.queue(f"{g1}-{topic}")
    ns.queue(f"{g2}-{topic}")
    async with make(broker, ns, prefetchCount="1") as ps:
        a1, a2, b = Recorder(), Recorder(), Recorder()

        async def slow(rec: Recorder) -> Any:
            async def handler(m: Message) -> None:
                await rec(m)
                await asyncio.sleep(0.005)

            return handler

        await ps.subscribe(topic, await slow(a1), consumer_group=g1)
        await ps.subscribe(topic, await slow(a2), consumer_group=g1)
        await ps.subscribe(topic, b, consumer_group=g2)
        sent = {f"m{i}".encode() for i in range(40)}
        for body in sorted(sent):
            await ps.publish(topic, body)
        await wait_until(lambda: len(a1.payloads) + len(a2.payloads) == 40 and len(b.payloads) == 40, what="all")
        await ps.publish(topic, END)
        group_a = (a1, a2)
        await wait_until(
            lambda: END in [m.data for m in b.messages] and any(END in [m.data for m in r.messages] for r in group_a),
            what="the end marker in both groups",
        )
    assert set(a1.payloads).isdisjoint(a2.payloads)
    assert set(a1.payloads) | set(a2.payloads) == sent
    assert a1.messages, "both members of the group must get a share"
    assert a2.messages, "both members of the group must get a share"
    assert sorted(b.payloads) == sorted(sent)


async def test_retry_and_exceptions_are_redelivered_then_acked(broker: Broker, ns: Namespace, admin: Admin) -> None:
    topic = ns.topic()
    queue = ns.queue(f"{ns.group()}-{topic}")

    def script(m: Message, n: int) -> HandlerResult | None:
        if m.data == b"retry" and m.metadata.get("redelivered") != "true":
            return HandlerResult.RETRY
        if m.data == b"raise" and m.metadata.get("redelivered") != "true":
            raise RuntimeError("handler failed")
        return None

    async with make(broker, ns, deletedWhenUnused="false") as ps:
        assert PubSubFeature.REDELIVERY in ps.features
        rec = Recorder(script)
        sub = await ps.subscribe(topic, rec)
        await ps.publish(topic, b"retry")
        await ps.publish(topic, b"raise")
        await wait_until(lambda: len(rec.messages) == 4, what="two deliveries of each message")
        await sub.cancel()
    # closed: a message that was not acked would be back in the (durable) queue now
    assert admin.count(queue) == 0, "successfully handled messages are acked"
    assert Counter(rec.payloads) == {b"retry": 2, b"raise": 2}


async def test_without_requeue_failures_go_to_the_dead_letter_queue(
    broker: Broker, ns: Namespace, admin: Admin
) -> None:
    topic = ns.topic()
    queue = ns.queue(f"{ns.group()}-{topic}")
    extra = {"requeueInFailure": "false", "enableDeadLetter": "true", "deletedWhenUnused": "false"}
    async with make(broker, ns, **extra) as ps:
        assert PubSubFeature.REDELIVERY not in ps.features
        assert PubSubFeature.REDELIVERY in RabbitMQPubSub.features
        rec = Recorder(lambda m, n: HandlerResult.RETRY if m.data == b"bad" else HandlerResult.DROP)
        async with await ps.subscribe(topic, rec):
            await ps.publish(topic, b"bad")
            await ps.publish(topic, b"dropped")
            await wait_until(lambda: admin.count(f"dlq-{queue}") == 1, what="the dead-lettered message")
            await drain(ps, topic, rec)
        assert rec.payloads == [b"bad", b"dropped"], "no redelivery without requeueInFailure"
        dead = admin.get(f"dlq-{queue}")  # the CloudEvent as published, moved unchanged
        assert dead is not None, "DROP acks; only the failed message is dead-lettered"
        assert base64.b64decode(json.loads(dead)["data_base64"]) == b"bad"
        assert admin.count(queue) == 0


async def test_auto_ack_does_not_declare_redelivery(broker: Broker, ns: Namespace) -> None:
    ps = make(broker, ns, autoAck="true")
    assert PubSubFeature.REDELIVERY not in ps.features


async def test_message_ttl_expires_only_the_message_that_has_one(broker: Broker, ns: Namespace, admin: Admin) -> None:
    topic = ns.topic()
    queue = ns.queue(f"{ns.group()}-{topic}")
    async with make(broker, ns, deletedWhenUnused="false") as ps:
        await (await ps.subscribe(topic, Recorder())).cancel()
        await ps.publish(topic, b"short", ttl=1)
        await ps.publish(topic, b"meta", metadata={"ttlInSeconds": "1"})
        await ps.publish(topic, b"long", ttl=60)
        await ps.publish(topic, b"none")
        assert admin.count(queue) == 4
        await asyncio.sleep(1.3)
        rec = Recorder()
        async with await ps.subscribe(topic, rec):
            await wait_until(lambda: len(rec.payloads) == 2, what="the unexpired messages")
            await drain(ps, topic, rec)
    assert sorted(rec.payloads) == [b"long", b"none"]


async def test_queue_ttl_from_component_metadata(broker: Broker, ns: Namespace, admin: Admin) -> None:
    topic = ns.topic()
    queue = ns.queue(f"{ns.group()}-{topic}")
    async with make(broker, ns, deletedWhenUnused="false", ttlInSeconds="1") as ps:
        await (await ps.subscribe(topic, Recorder())).cancel()
        await ps.publish(topic, b"x")
        assert admin.count(queue) == 1
        await wait_until(lambda: admin.count(queue) == 0, within=5, what="the queue TTL")


async def test_routing_keys_select_messages(broker: Broker, ns: Namespace) -> None:
    topic = ns.topic()
    ns.queue(f"{ns.group()}-{topic}")
    async with make(broker, ns, exchangeKind="direct") as ps:
        rec = Recorder()
        async with await ps.subscribe(topic, rec, metadata={"routingKey": "red, blue"}):
            for key in ("red", "green", "blue"):
                await ps.publish(topic, key.encode(), metadata={"routingKey": key})
            await wait_until(lambda: len(rec.payloads) == 2, what="red and blue")
            await drain(ps, topic, rec, metadata={"routingKey": "red"})
    assert sorted(rec.payloads) == [b"blue", b"red"]


async def test_bulk_publish_confirms_all_and_names_bad_entries(broker: Broker, ns: Namespace, admin: Admin) -> None:
    topic = ns.topic()
    queue = ns.queue(f"{ns.group()}-{topic}")
    async with make(broker, ns, deletedWhenUnused="false") as ps:
        await (await ps.subscribe(topic, Recorder())).cancel()
        entries = [BulkPublishEntry(str(i), {"n": i}) for i in range(50)]
        await ps.bulk_publish(topic, entries)
        assert admin.count(queue) == 50
        bad = [BulkPublishEntry("ok", b"1"), BulkPublishEntry("bad", b"2", metadata={"priority": "999"})]
        with pytest.raises(BulkError) as info:
            await ps.bulk_publish(topic, bad)
        assert set(info.value.errors) == {"bad"}
        assert "priority" in str(info.value.errors["bad"])
        assert admin.count(queue) == 51


async def test_max_len_limits_the_queue(broker: Broker, ns: Namespace, admin: Admin) -> None:
    topic = ns.topic()
    queue = ns.queue(f"{ns.group()}-{topic}")
    async with make(broker, ns, deletedWhenUnused="false", maxLen="3") as ps:
        await (await ps.subscribe(topic, Recorder())).cancel()
        for i in range(5):
            await ps.publish(topic, str(i).encode())
        assert admin.count(queue) == 3


async def test_priorities_with_max_priority(broker: Broker, ns: Namespace) -> None:
    topic = ns.topic()
    ns.queue(f"{ns.group()}-{topic}")
    sub_md = {"maxPriority": "5"}
    async with make(broker, ns, deletedWhenUnused="false", prefetchCount="1", concurrency="single") as ps:
        await (await ps.subscribe(topic, Recorder(), metadata=sub_md)).cancel()
        for body, prio in ((b"low", "0"), (b"high", "5"), (b"mid", "2")):
            await ps.publish(topic, body, metadata={"priority": prio})
        rec = Recorder()
        async with await ps.subscribe(topic, rec, metadata=sub_md):
            await wait_until(lambda: len(rec.messages) == 3, what="all three")
    assert rec.payloads == [b"high", b"mid", b"low"]


@pytest.mark.parametrize(("mode", "expect_parallel"), [("single", False), ("parallel", True)])
async def test_concurrency_modes(broker: Broker, ns: Namespace, mode: str, expect_parallel: bool) -> None:
    topic = ns.topic()
    ns.queue(f"{ns.group()}-{topic}")
    running, peak, done = 0, 0, 0

    async def handler(m: Message) -> None:
        nonlocal running, peak, done
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        done += 1

    async with make(broker, ns, concurrency=mode) as ps, await ps.subscribe(topic, handler):
        await asyncio.gather(*(ps.publish(topic, b"x") for _ in range(10)))
        await wait_until(lambda: done == 10, what="ten messages")
    assert (peak > 1) is expect_parallel


async def test_cancel_stops_the_handler_and_requeues_the_interrupted_message(broker: Broker, ns: Namespace) -> None:
    topic = ns.topic()
    ns.queue(f"{ns.group()}-{topic}")
    started = asyncio.Event()
    calls_after_cancel = 0
    cancelled = False

    async def stuck(m: Message) -> None:
        nonlocal calls_after_cancel
        if cancelled:
            calls_after_cancel += 1
        started.set()
        await asyncio.sleep(60)

    async with make(broker, ns, deletedWhenUnused="false") as ps:
        sub = await ps.subscribe(topic, stuck)
        await ps.publish(topic, b"in-flight")
        await asyncio.wait_for(started.wait(), 10)
        await sub.cancel()
        cancelled = True
        await ps.publish(topic, b"after")
        rec = Recorder()
        async with await ps.subscribe(topic, rec):
            await wait_until(lambda: len(rec.messages) == 2, what="both messages on the new subscriber")
        assert sorted(rec.payloads) == [b"after", b"in-flight"]
        assert calls_after_cancel == 0


async def test_subscriptions_resume_after_the_connection_drops(broker: Broker, ns: Namespace) -> None:
    topic = ns.topic()
    ns.queue(f"{ns.group()}-{topic}")
    async with make(broker, ns, deletedWhenUnused="false") as ps:
        rec = Recorder()
        await ps.subscribe(topic, rec)
        await ps.publish(topic, b"before")
        await wait_until(lambda: len(rec.messages) == 1, what="the first message")
        conn = ps._conn
        assert conn is not None
        sock: socket.socket = conn._conn._transport._sock  # type: ignore[union-attr]
        sock.shutdown(socket.SHUT_RDWR)  # the TCP connection dies under the component
        await wait_until(lambda: conn.reconnects == 1, what="the reconnect")
        await ps.publish(topic, b"after")
        await wait_until(lambda: b"after" in rec.payloads, what="delivery after the reconnect")


async def test_ping(broker: Broker, ns: Namespace) -> None:
    async with make(broker, ns) as ps:
        await ps.ping()


async def test_bulk_subscribe_is_not_declared(broker: Broker, ns: Namespace) -> None:
    async with make(broker, ns) as ps:
        with pytest.raises(NotSupportedError):
            await ps.bulk_subscribe(ns.topic(), lambda ms: asyncio.sleep(0))


def test_metadata_rejects_what_is_not_implemented(broker: Broker) -> None:
    base = {"connectionString": broker.url}
    with pytest.raises(ComponentConfigError, match="publishMessagePropertiesToMetadata"):
        RabbitMQPubSub({**base, "publishMessagePropertiesToMetadata": "true"})
    with pytest.raises(ComponentConfigError, match="publisherConfirm"):
        RabbitMQPubSub({**base, "publisherConfirm": "false"})
    with pytest.raises(ComponentConfigError, match="deliveryMode"):
        RabbitMQPubSub({**base, "deliveryMode": "3"})
    with pytest.raises(ComponentConfigError, match="connectionString"):
        RabbitMQPubSub({})
    with pytest.raises(ComponentConfigError, match="exchangeKind"):
        RabbitMQPubSub({**base, "exchangeKind": "x-consistent-hash"})
    ok = RabbitMQPubSub({"host": broker.url, "reconnectWait": "2", "concurrencyMode": "single"})
    assert ok.meta.reconnect_wait.total_seconds() == 2
    assert ok.meta.concurrency == "single"

"""bindings.rabbitmq against a real broker: confirmed create, read with ack/requeue, TTL, priority."""

from __future__ import annotations

from typing import Any

import pytest
from rabbitmq_testing import Admin, Broker, Namespace, wait_until

from blockyard.bindings import BindingEvent
from blockyard.errors import ComponentConfigError, InvalidRequestError, NotSupportedError
from blockyard.subscription import HandlerResult
from blockyard_rabbitmq.binding import RabbitMQBinding

pytestmark = pytest.mark.backend("rabbitmq")


def make(broker: Broker, ns: Namespace, **extra: Any) -> RabbitMQBinding:
    queue = ns.queue(f"{ns.prefix}-q")
    meta = {"host": broker.url, "queueName": queue, "reconnectWaitInSeconds": "0.3s", **extra}
    return RabbitMQBinding(meta, name="rmq-binding")


async def test_create_then_read_with_content_type(broker: Broker, ns: Namespace, admin: Admin) -> None:
    async with make(broker, ns) as b:
        await b.invoke("create", {"x": 1})
        await b.invoke("create", b"raw", metadata={"contentType": "application/octet-stream"})
        assert admin.count(b.meta.queue_name) == 2, "create returns once the broker confirmed"
        events: list[BindingEvent] = []

        async def handler(e: BindingEvent) -> None:
            events.append(e)

        async with await b.read(handler):
            await wait_until(lambda: len(events) == 2, what="both events")
        queue = b.meta.queue_name
    # closed: an event that was not acked would be back in the queue now
    assert admin.count(queue) == 0, "handled events are acked"
    assert [(e.json() if e.content_type == "text/plain" else e.data, e.content_type) for e in events] == [
        ({"x": 1}, "text/plain"),
        (b"raw", "application/octet-stream"),
    ]


async def test_failed_handler_requeues(broker: Broker, ns: Namespace) -> None:
    seen: list[bytes | None] = []

    async def handler(e: BindingEvent) -> HandlerResult | None:
        seen.append(e.data)
        if e.data == b"fail-once" and e.metadata.get("redelivered") != "true":
            raise RuntimeError("boom")
        if e.data == b"retry-once" and e.metadata.get("redelivered") != "true":
            return HandlerResult.RETRY
        return None

    async with make(broker, ns) as b, await b.read(handler):
        for body in (b"fail-once", b"retry-once", b"ok"):
            await b.invoke("create", body)
        await wait_until(lambda: len(seen) == 5, what="five deliveries")
    assert sorted(x or b"" for x in seen) == [b"fail-once", b"fail-once", b"ok", b"retry-once", b"retry-once"]


async def test_message_and_queue_ttl(broker: Broker, ns: Namespace, admin: Admin) -> None:
    async with make(broker, ns, ttlInSeconds="60") as b:
        await b.invoke("create", b"short", metadata={"ttlInSeconds": "1"})
        await b.invoke("create", b"kept")
        assert admin.count(b.meta.queue_name) == 2
        await wait_until(lambda: admin.count(b.meta.queue_name) == 1, within=5, what="the expiry")
        assert admin.get(b.meta.queue_name) == b"kept"
        with pytest.raises(InvalidRequestError):
            await b.invoke("create", b"x", metadata={"ttlInSeconds": "soon"})


async def test_priority(broker: Broker, ns: Namespace, admin: Admin) -> None:
    async with make(broker, ns, maxPriority="5") as b:
        for body, prio in ((b"low", "1"), (b"high", "5")):
            await b.invoke("create", body, metadata={"priority": prio})
        assert [admin.get(b.meta.queue_name), admin.get(b.meta.queue_name)] == [b"high", b"low"]
        with pytest.raises(InvalidRequestError, match="priority"):
            await b.invoke("create", b"x", metadata={"priority": "300"})


async def test_operations_and_metadata(broker: Broker, ns: Namespace) -> None:
    async with make(broker, ns) as b:
        await b.ping()
        with pytest.raises(NotSupportedError, match="create"):
            await b.invoke("delete")
    with pytest.raises(ComponentConfigError, match="queueName"):
        RabbitMQBinding({"host": broker.url})
    with pytest.raises(ComponentConfigError, match="maxPriority"):
        RabbitMQBinding({"host": broker.url, "queueName": "q", "maxPriority": "256"})

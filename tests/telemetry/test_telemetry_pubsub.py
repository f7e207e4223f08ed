"""Trace context through pub/sub: the consumer's span continues the producer's trace."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from otel_testkit import Otel

from blockyard.pubsub import BulkPublishEntry, HandlerResult, Message, PubSub
from blockyard.telemetry import message_carrier
from blockyard_local.pubsub_memory import InMemoryPubSub


async def round_trip(otel: Otel, pubsub: PubSub, topic: str) -> tuple[Any, Message]:
    """Publish one message inside a parent span; return the parent and the received message."""
    got: asyncio.Queue[Message] = asyncio.Queue()

    async def handle(message: Message) -> None:
        await got.put(message)

    async with await pubsub.subscribe(topic, handle):
        with otel.tracer().start_as_current_span("place-order") as parent:
            await pubsub.publish(topic, {"id": 1})
        message = await asyncio.wait_for(got.get(), 30)
    return parent, message


def check_continuity(otel: Otel, parent: Any, message: Message, topic: str) -> None:
    (publish,) = otel.spans("pubsub.publish")
    (deliver,) = otel.spans("pubsub.deliver")
    trace_id = parent.get_span_context().trace_id
    assert publish.kind is SpanKind.PRODUCER
    assert publish.parent is not None
    assert publish.parent.span_id == parent.get_span_context().span_id
    assert deliver.kind is SpanKind.CONSUMER
    assert deliver.context.trace_id == trace_id
    assert deliver.parent is not None
    assert deliver.parent.span_id == publish.context.span_id
    assert deliver.parent.is_remote
    assert dict(deliver.attributes or {})["messaging.destination.name"] == topic
    assert dict(publish.attributes or {})["messaging.destination.name"] == topic
    carrier = message_carrier(message)
    assert carrier["traceparent"].startswith(f"00-{trace_id:032x}-{publish.context.span_id:016x}-")


async def test_in_memory_consumer_continues_the_producers_trace(otel: Otel) -> None:
    async with InMemoryPubSub(name="bus") as bus:
        parent, message = await round_trip(otel, bus, "orders")
    check_continuity(otel, parent, message, "orders")


async def test_tracestate_is_carried(otel: Otel) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

    remote = SpanContext(
        trace_id=0x1234,
        span_id=0x99,
        is_remote=True,
        trace_flags=TraceFlags(1),
        trace_state=TraceState([("vendor", "v1")]),
    )
    got: asyncio.Queue[Message] = asyncio.Queue()

    async def handle(message: Message) -> None:
        await got.put(message)

    async with InMemoryPubSub(name="bus") as bus, await bus.subscribe("t", handle):
        with trace.use_span(NonRecordingSpan(remote)):
            await bus.publish("t", b"x")
        message = await asyncio.wait_for(got.get(), 30)
    assert message.metadata["tracestate"] == "vendor=v1"
    (deliver,) = otel.spans("pubsub.deliver")
    assert deliver.context.trace_id == 0x1234
    assert deliver.context.trace_state.get("vendor") == "v1"


async def test_publish_keeps_the_callers_metadata(otel: Otel) -> None:
    got: asyncio.Queue[Message] = asyncio.Queue()

    async def handle(message: Message) -> None:
        await got.put(message)

    metadata = {"rawPayload": "false", "custom": "1"}
    async with InMemoryPubSub(name="bus") as bus, await bus.subscribe("t", handle):
        await bus.publish("t", b"x", metadata=metadata)
        message = await asyncio.wait_for(got.get(), 30)
    assert metadata == {"rawPayload": "false", "custom": "1"}  # not modified in place
    assert message.metadata["custom"] == "1"
    assert "traceparent" in message.metadata


async def test_bulk_publish_propagates_to_every_message(otel: Otel) -> None:
    got: asyncio.Queue[Message] = asyncio.Queue()

    async def handle(message: Message) -> None:
        await got.put(message)

    async with InMemoryPubSub(name="bus") as bus, await bus.subscribe("t", handle):
        await bus.bulk_publish("t", [BulkPublishEntry("a", b"1"), BulkPublishEntry("b", b"2")])
        messages = [await asyncio.wait_for(got.get(), 30) for _ in range(2)]
    (bulk,) = otel.spans("pubsub.bulk_publish")
    assert bulk.kind is SpanKind.PRODUCER
    assert dict(bulk.attributes or {})["blockyard.key_count"] == 2
    delivers = otel.spans("pubsub.deliver")
    assert len(delivers) == 2
    assert {d.parent.span_id for d in delivers if d.parent} == {bulk.context.span_id}
    assert all(m.metadata["traceparent"].split("-")[2] == f"{bulk.context.span_id:016x}" for m in messages)


async def test_a_failing_handler_marks_its_span(otel: Otel) -> None:
    done = asyncio.Event()
    calls = 0

    async def handle(message: Message) -> HandlerResult | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        done.set()
        return None

    async with InMemoryPubSub(name="bus") as bus, await bus.subscribe("t", handle):
        await bus.publish("t", b"x")
        await asyncio.wait_for(done.wait(), 30)
    delivers = otel.spans("pubsub.deliver")
    assert delivers[0].status.status_code is StatusCode.ERROR
    assert dict(delivers[0].attributes or {})["error.type"] == "RuntimeError"
    assert delivers[-1].status.status_code is StatusCode.UNSET


@pytest.mark.backend("redis")
async def test_redis_consumer_continues_the_producers_trace(otel: Otel, backend_endpoint: Any) -> None:
    from blockyard_redis.pubsub import RedisPubSub

    topic = f"trace-{uuid.uuid4().hex}"
    pubsub = RedisPubSub({"redisHost": backend_endpoint.address, "consumerID": f"g-{uuid.uuid4().hex}"}, name="bus")
    async with pubsub:
        parent, message = await round_trip(otel, pubsub, topic)
    check_continuity(otel, parent, message, topic)

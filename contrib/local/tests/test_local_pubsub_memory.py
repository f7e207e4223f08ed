"""pubsub.in-memory: groups, order, redelivery, TTL, cancellation, bulk."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from local_wait import eventually

from blockyard.errors import ComponentClosedError, ComponentConfigError
from blockyard.pubsub import BulkPublishEntry, Message
from blockyard.subscription import HandlerResult
from blockyard_local.pubsub_memory import InMemoryPubSub


@pytest.fixture
async def bus() -> AsyncIterator[InMemoryPubSub]:
    async with InMemoryPubSub({"redeliveryBackoff": "20ms"}, name="bus") as b:
        yield b


class Collector:
    """A handler recording what it got; ``wait(n)`` waits for ``n`` calls."""

    def __init__(self, results: Mapping[int, HandlerResult] | None = None, delay: float = 0.0) -> None:
        self.got: list[Message] = []
        self.results = dict(results or {})
        self.delay = delay
        self._changed = asyncio.Event()

    async def __call__(self, message: Message) -> HandlerResult | None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.got.append(message)
        self._changed.set()
        return self.results.pop(len(self.got), None)

    @property
    def values(self) -> list[Any]:
        return [v for m in self.got if (v := m.json()) != END]

    def has_end(self) -> bool:
        return any(m.json() == END for m in self.got)

    async def wait(self, n: int, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while len(self.got) < n:
                self._changed.clear()
                await self._changed.wait()


END = "end-of-test"
"""Published last: once a group has it, everything before it was handled (delivery is in order)."""


async def drain(bus: InMemoryPubSub, topic: str, *groups: tuple[Collector, ...]) -> None:
    """Publish :data:`END` on ``topic`` and wait until each group (its collectors) received it."""
    await bus.publish(topic, END)
    await eventually(lambda: all(any(c.has_end() for c in group) for group in groups), 30)


async def test_delivers_data_metadata_and_content_type(bus: InMemoryPubSub) -> None:
    h = Collector()
    await bus.subscribe("t", h)
    await bus.publish("t", {"a": 1}, metadata={"x": "y"}, content_type="application/json")
    await bus.publish("t", b"\x00raw")
    await h.wait(2)
    first, second = h.got
    assert (first.topic, first.json(), first.metadata, first.content_type) == (
        "t",
        {"a": 1},
        {"x": "y"},
        "application/json",
    )
    assert second.data == b"\x00raw"
    assert first.id
    assert second.id
    assert first.id != second.id


async def test_in_order_for_one_subscriber(bus: InMemoryPubSub) -> None:
    h = Collector()
    await bus.subscribe("t", h)
    for i in range(200):
        await bus.publish("t", i)
    await h.wait(200)
    assert h.values == list(range(200))


async def test_fan_out_across_groups_and_competition_inside_one(bus: InMemoryPubSub) -> None:
    a1, a2, b = Collector(delay=0.001), Collector(delay=0.001), Collector()
    await bus.subscribe("t", a1, consumer_group="A")
    await bus.subscribe("t", a2, consumer_group="A")
    await bus.subscribe("t", b, consumer_group="B")
    for i in range(40):
        await bus.publish("t", i)
    await b.wait(40)
    await eventually(lambda: not (len(a1.got) + len(a2.got) < 40), 5)
    await drain(bus, "t", (a1, a2), (b,))
    assert sorted(a1.values + a2.values) == list(range(40))  # each message once in group A
    assert a1.got
    assert a2.got
    assert b.values == list(range(40))


async def test_default_group_is_consumer_id() -> None:
    async with InMemoryPubSub({"consumerID": "app"}, name="bus") as bus:
        assert bus.default_consumer_group == "app"
        h1, h2 = Collector(delay=0.001), Collector(delay=0.001)
        s1 = await bus.subscribe("t", h1)
        await bus.subscribe("t", h2)
        assert s1.consumer_group == "app"
        for i in range(20):
            await bus.publish("t", i)
        await eventually(lambda: not (len(h1.got) + len(h2.got) < 20), 5)
        assert sorted(h1.values + h2.values) == list(range(20))


async def test_group_starts_at_its_first_subscription_then_keeps_messages(bus: InMemoryPubSub) -> None:
    await bus.publish("t", "before any group")
    h = Collector()
    sub = await bus.subscribe("t", h, consumer_group="g")
    await sub.cancel()
    await bus.publish("t", "while nobody listens")
    h2 = Collector()
    await bus.subscribe("t", h2, consumer_group="g")
    await bus.publish("t", "later")
    await h2.wait(2)
    assert h2.values == ["while nobody listens", "later"]
    assert h.got == []


async def test_retry_and_raise_are_redelivered_in_order(bus: InMemoryPubSub) -> None:
    async def flaky(message: Message) -> HandlerResult | None:
        seen.append(message.json())
        if seen.count(message.json()) == 1 and message.json() == 1:
            return HandlerResult.RETRY
        if seen.count(message.json()) == 1 and message.json() == 3:
            raise RuntimeError("boom")
        return None

    seen: list[int] = []
    await bus.subscribe("t", flaky)
    for i in range(5):
        await bus.publish("t", i)
    await eventually(lambda: not (len(seen) < 7), 5)
    assert seen == [0, 1, 1, 2, 3, 3, 4]


async def test_redelivery_waits_for_the_backoff() -> None:
    async with InMemoryPubSub({"redeliveryBackoff": "150ms"}) as bus:
        times: list[float] = []

        async def handler(message: Message) -> HandlerResult:
            times.append(time.monotonic())
            return HandlerResult.RETRY if len(times) == 1 else HandlerResult.SUCCESS

        await bus.subscribe("t", handler)
        await bus.publish("t", 1)
        await eventually(lambda: not (len(times) < 2), 5)
        assert times[1] - times[0] >= 0.14


async def test_drop_is_not_redelivered(bus: InMemoryPubSub) -> None:
    h = Collector({1: HandlerResult.DROP})
    await bus.subscribe("t", h)
    await bus.publish("t", "dropped")
    await bus.publish("t", "next")
    await h.wait(2)
    await drain(bus, "t", (h,))
    assert h.values == ["dropped", "next"]


async def test_max_redeliveries() -> None:
    async with InMemoryPubSub({"redeliveryBackoff": "1ms", "maxRedeliveries": "2"}) as bus:
        calls: list[object] = []

        async def handler(message: Message) -> HandlerResult:
            calls.append(message.json())
            return HandlerResult.RETRY if message.json() == "poison" else HandlerResult.SUCCESS

        await bus.subscribe("t", handler)
        await bus.publish("t", "poison")
        await bus.publish("t", "ok")
        await eventually(lambda: not ("ok" not in calls), 5)
        assert calls == ["poison", "poison", "poison", "ok"]


def test_bad_metadata() -> None:
    with pytest.raises(ComponentConfigError, match="maxRedeliveries"):
        InMemoryPubSub({"maxRedeliveries": "-1"})
    with pytest.raises(ComponentConfigError, match="redeliveryBackoff"):
        InMemoryPubSub({"redeliveryBackoff": "later"})


async def test_expired_messages_are_not_delivered(bus: InMemoryPubSub) -> None:
    sub = await bus.subscribe("t", Collector(), consumer_group="g")
    await sub.cancel()
    await bus.publish("t", "short", ttl=1)
    await bus.publish("t", "long", metadata={"ttlInSeconds": "60"})
    await bus.publish("t", "forever")
    await asyncio.sleep(1.1)
    h = Collector()
    await bus.subscribe("t", h, consumer_group="g")
    await h.wait(2)
    await drain(bus, "t", (h,))
    assert h.values == ["long", "forever"]


async def test_cancel_mid_handler_hands_the_message_to_the_group(bus: InMemoryPubSub) -> None:
    started = asyncio.Event()
    calls: list[object] = []

    async def stuck(message: Message) -> None:
        calls.append(message.json())
        started.set()
        await asyncio.sleep(3600)

    sub = await bus.subscribe("t", stuck, consumer_group="g")
    await bus.publish("t", "precious")
    await bus.publish("t", "second")
    await started.wait()
    await sub.cancel()
    assert not sub.active
    h = Collector()
    await bus.subscribe("t", h, consumer_group="g")
    await h.wait(2)
    assert h.values == ["precious", "second"]
    assert calls == ["precious"]


async def test_cancel_from_inside_the_handler(bus: InMemoryPubSub) -> None:
    calls: list[object] = []
    sub = None

    async def once(message: Message) -> None:
        calls.append(message.json())
        assert sub is not None
        await sub.cancel()

    sub = await bus.subscribe("t", once, consumer_group="g")
    await bus.publish("t", 1)
    await bus.publish("t", 2)
    h = Collector()
    await bus.subscribe("t", h, consumer_group="g")
    await h.wait(1)  # 2 went to the group's next subscriber, so the cancelled one did not take it
    assert h.values == [2]
    assert calls == [1]


async def test_cancelling_one_subscription_leaves_the_others(bus: InMemoryPubSub) -> None:
    h1, h2, witness = Collector(), Collector(), Collector()
    s1 = await bus.subscribe("t1", h1)
    await bus.subscribe("t2", h2)
    await bus.subscribe("t1", witness, consumer_group="witness")
    await s1.cancel()
    await bus.publish("t1", 1)
    await bus.publish("t2", 2)
    await h2.wait(1)
    await witness.wait(1)  # t1's message was handed out; the cancelled subscription did not get it
    assert h1.got == []
    assert h2.values == [2]


async def test_close_cancels_subscriptions_and_rejects_publish() -> None:
    bus = InMemoryPubSub()
    await bus.init()
    sub = await bus.subscribe("t", Collector())
    await bus.close()
    assert not sub.active
    with pytest.raises(ComponentClosedError):
        await bus.publish("t", 1)


async def test_bulk_publish_and_subscribe(bus: InMemoryPubSub) -> None:
    batches: list[list[object]] = []
    retried = False

    async def handler(messages: list[Message]) -> dict[str, HandlerResult]:
        nonlocal retried
        batches.append([m.json() for m in messages])
        out = {}
        for m in messages:
            if m.json() == 3 and not retried:
                retried = True
                out[m.id or ""] = HandlerResult.RETRY
        return out

    await bus.bulk_subscribe("t", handler, max_messages=4, max_await=timedelta(milliseconds=50))
    await bus.bulk_publish("t", [BulkPublishEntry(str(i), i) for i in range(10)])
    await eventually(lambda: not (sum(len(b) for b in batches) < 11), 5)
    assert all(len(b) <= 4 for b in batches)
    delivered = [v for b in batches for v in b]
    assert batches[0] == [0, 1, 2, 3]
    assert delivered == [0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9]  # the retried one comes back before later ones


async def test_bulk_subscribe_flushes_after_max_await(bus: InMemoryPubSub) -> None:
    batches: list[list[object]] = []

    async def handler(messages: list[Message]) -> None:
        batches.append([m.json() for m in messages])

    await bus.bulk_subscribe("t", handler, max_messages=100, max_await=timedelta(milliseconds=50))
    await bus.publish("t", 1)
    await bus.publish("t", 2)
    await eventually(lambda: bool(batches), 5)
    assert batches == [[1, 2]]

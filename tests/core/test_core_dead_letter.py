"""Dead-letter topics, provided by the PubSub base for every pub/sub: when a message goes there, what
it looks like, what is acknowledged. Run on pubsub.in-memory; the kit's
``test_poison_message_is_dead_lettered`` runs the same rule on every broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

import blockyard
from blockyard.errors import BackendUnavailableError, InvalidRequestError
from blockyard.pubsub import Message, PublishOp
from blockyard.subscription import HandlerResult
from blockyard_local.pubsub_memory import InMemoryPubSub


class Inbox:
    """A handler that records what it gets and answers ``result``."""

    def __init__(self, result: HandlerResult | None = None) -> None:
        self.got: list[Message] = []
        self.result = result
        self._changed = asyncio.Event()

    async def __call__(self, message: Message) -> HandlerResult | None:
        self.got.append(message)
        self._changed.set()
        return self.result

    async def wait(self, n: int, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while len(self.got) < n:
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def bus() -> AsyncIterator[InMemoryPubSub]:
    # A retried message would come back only after an hour: every second call is someone else's.
    async with InMemoryPubSub({"redeliveryBackoff": "1h"}, name="bus") as b:
        yield b


@pytest.mark.parametrize("result", [HandlerResult.RETRY, HandlerResult.DROP, "raises"])
async def test_a_failed_message_goes_to_the_dead_letter_topic_unchanged(bus: InMemoryPubSub, result: object) -> None:
    dead = Inbox()
    await bus.subscribe("dead", dead)

    async def handler(message: Message) -> HandlerResult:
        if result == "raises":
            raise RuntimeError("poison")
        assert isinstance(result, HandlerResult)
        return result

    await bus.subscribe("orders", handler, dead_letter_topic="dead")
    payload = b"\xff\x00not text"
    await bus.publish("orders", payload, metadata={"cloudevent.id": "ev-1", "cloudevent.subject": "s"})
    await dead.wait(1)
    (got,) = dead.got
    assert got.data == payload
    assert got.event is not None
    assert (got.event.id, got.event.subject, got.event.topic) == ("ev-1", "s", "orders")


async def test_success_is_not_dead_lettered_and_a_forwarded_message_is_acknowledged(bus: InMemoryPubSub) -> None:
    dead, calls = Inbox(), Inbox()
    await bus.subscribe("dead", dead)

    async def handler(message: Message) -> HandlerResult | None:
        await calls(message)
        return HandlerResult.RETRY if message.json() == "poison" else None

    await bus.subscribe("orders", handler, dead_letter_topic="dead")
    await bus.publish("orders", "fine")
    await bus.publish("orders", "poison")
    await bus.publish("orders", "fine too")
    await dead.wait(1)
    await calls.wait(3)
    await bus.publish("dead", "marker")  # the dead-letter topic keeps its order: nothing else came before
    await dead.wait(2)
    assert [m.json() for m in dead.got] == ["poison", "marker"]
    assert [m.json() for m in calls.got] == ["fine", "poison", "fine too"]


async def test_a_failed_forward_is_not_acknowledged() -> None:
    class FlakyDeadLetters(InMemoryPubSub):
        failures = 2

        async def _publish(self, op: PublishOp) -> None:
            if op.topic == "dead" and self.failures:
                self.failures -= 1
                raise BackendUnavailableError("the broker is away")
            await super()._publish(op)

    async with FlakyDeadLetters({"redeliveryBackoff": "10ms"}, name="bus") as bus:
        dead, poison = Inbox(), Inbox(HandlerResult.RETRY)
        await bus.subscribe("dead", dead)
        await bus.subscribe("orders", poison, dead_letter_topic="dead")
        await bus.publish("orders", "poison")
        await dead.wait(1)
        assert len(poison.got) == 3  # redelivered after each failed forward, then forwarded
        assert [m.json() for m in dead.got] == ["poison"]


async def test_bulk_subscribe_dead_letters_each_failed_entry(bus: InMemoryPubSub) -> None:
    dead = Inbox()
    await bus.subscribe("dead", dead)
    batches: list[list[Message]] = []

    async def handler(messages: list[Message]) -> dict[str, HandlerResult]:
        batches.append(messages)
        return {m.id or "": HandlerResult.RETRY for m in messages if m.json() % 2}

    await bus.bulk_subscribe(
        "orders", handler, max_messages=10, max_await=timedelta(milliseconds=50), dead_letter_topic="dead"
    )
    for i in range(6):
        await bus.publish("orders", i)
    await dead.wait(3)
    assert sorted(m.json() for m in dead.got) == [1, 3, 5]
    assert sorted(m.json() for b in batches for m in b) == list(range(6))


async def test_inbound_retries_come_before_the_dead_letter_topic(tmp_path: Path) -> None:
    (tmp_path / "components.yaml").write_text(
        """apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: bus}
spec:
  type: pubsub.in-memory
  version: v1
  metadata:
    - {name: redeliveryBackoff, value: 1h}
---
apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: {name: policies}
spec:
  policies:
    retries: {quick: {policy: constant, duration: 10ms, maxRetries: 2}}
  targets:
    components:
      bus: {inbound: {retry: quick}}
""",
        encoding="utf-8",
    )
    async with blockyard.open(tmp_path) as yard:
        bus = yard.pubsub("bus")
        dead, poison = Inbox(), Inbox(HandlerResult.RETRY)
        await bus.subscribe("dead", dead)
        await bus.subscribe("orders", poison, dead_letter_topic="dead")
        await bus.publish("orders", {"id": 1})
        await dead.wait(1)
        assert len(poison.got) == 3  # the first try and the policy's 2 retries, then the hand-off
        assert [m.json() for m in dead.got] == [{"id": 1}]


@pytest.mark.parametrize("bad", ["", "orders", 7])
async def test_a_bad_dead_letter_topic_is_refused(bus: InMemoryPubSub, bad: object) -> None:
    with pytest.raises(InvalidRequestError, match="dead_letter_topic") as info:
        await bus.subscribe("orders", Inbox(), dead_letter_topic=bad)  # type: ignore[arg-type]
    assert "bus" in str(info.value)
    assert "orders" in str(info.value)

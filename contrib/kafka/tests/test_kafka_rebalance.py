"""Rebalance under load: a second member joins the group mid-stream, then leaves.

No confirmed message may be lost; duplicates (a message handled twice because its partition moved
before its offset was committed) are counted and reported, not hidden.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest
from kafka_servers import Broker, eventually, fresh

from blockyard.pubsub import Message
from blockyard_kafka.pubsub import KafkaPubSub

TOTAL = 600
JOIN_AT, LEAVE_AT = 200, 400


async def test_member_joins_and_leaves_mid_stream(
    kafka: Broker, record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]
) -> None:
    topic, group = fresh("rebalance"), fresh("g")
    md = kafka.metadata(partitions="4", consumerGroupRebalanceStrategy="roundrobin")
    deliveries: Counter[str] = Counter()
    where: dict[str, str] = {}
    by_member: dict[str, Counter[str]] = {"a": Counter(), "b": Counter()}
    confirmed: list[str] = []

    def handler_for(member: str):  # type: ignore[no-untyped-def]
        async def handle(message: Message) -> None:
            await asyncio.sleep(0.001)  # some work, so a rebalance finds messages in hand
            body = message.data.decode()
            deliveries[body] += 1
            where[body] = message.id or ""
            by_member[member][body] += 1

        return handle

    async with KafkaPubSub(md, name="member-a") as a, KafkaPubSub(md, name="member-b") as b:
        sub_a = await a.subscribe(topic, handler_for("a"), consumer_group=group)
        joined, left = asyncio.Event(), asyncio.Event()

        async def publisher() -> None:
            for n in range(TOTAL):
                body = f"m{n}"
                await a.publish(topic, body.encode(), metadata={"partitionKey": f"key-{n % 16}"})
                confirmed.append(body)
                if n == JOIN_AT:
                    joined.set()
                if n == LEAVE_AT:
                    left.set()
                await asyncio.sleep(0.002)

        async def second_member() -> None:
            await joined.wait()
            sub_b = await b.subscribe(topic, handler_for("b"), consumer_group=group)
            await eventually(lambda: sum(by_member["b"].values()) > 0, within=60)
            await left.wait()
            await sub_b.cancel()

        await asyncio.wait_for(asyncio.gather(publisher(), second_member()), 180)
        a_before_end = sum(by_member["a"].values())
        try:
            await eventually(lambda: set(confirmed) <= set(deliveries), within=60)
        except AssertionError:
            pass  # reported below with the lost messages
        await sub_a.cancel()

    lost = sorted(set(confirmed) - set(deliveries))
    duplicates = sum(deliveries.values()) - len(deliveries)
    record_property("kafka_rebalance_duplicates", duplicates)
    with capsys.disabled():
        print(
            f"\nrebalance: {len(confirmed)} confirmed, {len(deliveries)} delivered, {duplicates} duplicate(s); "
            f"member a handled {sum(by_member['a'].values())}, member b {sum(by_member['b'].values())}"
        )
    assert not lost, f"lost {len(lost)} message(s), e.g. {lost[:5]}"
    assert by_member["b"], "the second member never got a partition: no rebalance was exercised"
    assert sum(by_member["a"].values()) >= a_before_end
    assert set(confirmed) == set(deliveries)

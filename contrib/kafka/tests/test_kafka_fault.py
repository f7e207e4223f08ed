"""Fault injection: the launcher restarts its own Kafka under a running publisher and subscriber.

The broker keeps its log in the launcher's working folder, so a restart loses nothing that was
acknowledged. Every confirmed message must reach the subscription, which resumes by itself; the
publisher retries what failed during the outage. Duplicates are counted and reported. The launcher
never restarts a broker it did not start (one from ``BLOCKYARD_KAFKA_URL`` or already listening on
9092): then the test is not run.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from kafka_servers import Broker, eventually, fresh

from blockyard.errors import BackendUnavailableError
from blockyard.pubsub import Message
from blockyard_kafka.pubsub import KafkaPubSub

launcher_module = pytest.importorskip(
    "blockyard_conformance.backends.launcher", reason="the backend launcher (blockyard-conformance) is not installed"
)

TOTAL = 300
RESTART_AFTER = 100


@pytest.fixture
def restartable_kafka(kafka: Broker) -> Broker:
    """The launcher's own Kafka; the test is not run when the launcher did not start it."""
    if kafka.source not in ("native", "docker"):
        pytest.skip(f"the launcher did not start this Kafka ({kafka.source}); it restarts only its own servers")
    return kafka


async def test_broker_restart_loses_no_confirmed_message(
    restartable_kafka: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    topic, group = fresh("fault"), fresh("g")
    md = restartable_kafka.metadata(writeTimeout="3s", partitions="2")
    deliveries: Counter[str] = Counter()
    confirmed: list[str] = []
    failures = 0
    restarted_at: float | None = None
    first_confirm_after: float | None = None

    async def handle(message: Message) -> None:
        deliveries[message.data.decode()] += 1

    async with KafkaPubSub(md, name="fault") as pubsub:
        sub = await pubsub.subscribe(topic, handle, consumer_group=group)

        async def restarter() -> None:
            nonlocal restarted_at
            await eventually(lambda: len(confirmed) >= RESTART_AFTER, within=60)
            await asyncio.to_thread(launcher_module.get_launcher().restart, "kafka")
            restarted_at = time.monotonic()

        async def publisher() -> None:
            nonlocal failures, first_confirm_after
            n = 0
            while n < TOTAL:
                body = f"m{n}"
                try:
                    await pubsub.publish(topic, body.encode(), metadata={"partitionKey": str(n % 7)})
                except BackendUnavailableError:
                    failures += 1  # not confirmed: publish the same message again
                    await asyncio.sleep(0.05)
                    continue
                if restarted_at is not None and first_confirm_after is None:
                    first_confirm_after = time.monotonic() - restarted_at
                confirmed.append(body)
                n += 1
                await asyncio.sleep(0.005)

        await asyncio.wait_for(asyncio.gather(restarter(), publisher()), 180)
        try:
            await eventually(lambda: set(confirmed) <= set(deliveries), within=90)
        except AssertionError:
            pass  # reported below with the lost messages
        await sub.cancel()

    lost = sorted(set(confirmed) - set(deliveries))
    duplicates = sum(deliveries.values()) - len(deliveries)
    with capsys.disabled():
        print(
            f"\nkafka restart: {len(confirmed)} confirmed, {failures} failed publish(es) retried, "
            f"{len(deliveries)} delivered, {duplicates} duplicate(s), first confirm "
            f"{first_confirm_after if first_confirm_after is None else round(first_confirm_after, 1)} s after restart"
        )
    assert restarted_at is not None
    assert len(confirmed) == TOTAL
    assert not lost, f"lost {len(lost)} confirmed message(s), e.g. {lost[:5]}"

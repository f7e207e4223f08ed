"""Fault injection: the broker restarts under a steady publish/consume stream.

Durable queue, persistent messages. Publishes that fail during the outage were not confirmed and
are retried by the test's publisher; every confirmed message must be delivered afterwards, and
the component must reconnect and resume its subscription by itself.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from rabbitmq_testing import Broker, Namespace, wait_until

from blockyard.errors import BackendError, BackendUnavailableError
from blockyard.pubsub import Message
from blockyard_rabbitmq.pubsub import RabbitMQPubSub

pytestmark = [pytest.mark.backend("rabbitmq", own=True), pytest.mark.slow]


async def test_broker_restart_loses_no_confirmed_message(own_broker: Broker) -> None:
    """On a broker of the test's own (a private launcher's, on a port of its own)."""
    broker = own_broker
    assert broker.restart is not None
    ns = Namespace()
    topic = ns.topic()
    ns.queue(f"{ns.group()}-{topic}")
    meta = {
        "connectionString": broker.url,
        "consumerID": ns.group(),
        "durable": "true",
        "deletedWhenUnused": "false",
        "deliveryMode": "2",
        "prefetchCount": "50",
        "reconnectWaitSeconds": "0.5s",
    }
    received: set[bytes] = set()
    confirmed: set[bytes] = set()
    failures = 0
    restarted_at: float | None = None
    first_after: float | None = None

    async def handler(m: Message) -> None:
        received.add(m.data)

    async def publisher(ps: RabbitMQPubSub, stop: asyncio.Event) -> None:
        nonlocal failures, first_after
        i = 0
        while not stop.is_set():
            body = f"m{i}".encode()
            try:
                await ps.publish(topic, body)
            except (BackendUnavailableError, BackendError):
                failures += 1
                await asyncio.sleep(0.1)
                continue  # not confirmed: retry the same message
            confirmed.add(body)
            if restarted_at is not None and first_after is None:
                first_after = time.monotonic()
            i += 1
            await asyncio.sleep(0.002)

    async with RabbitMQPubSub(meta, name="fault") as ps:
        await ps.subscribe(topic, handler)
        stop = asyncio.Event()
        task = asyncio.create_task(publisher(ps, stop))
        await wait_until(lambda: len(confirmed) >= 200, what="traffic before the fault")
        await asyncio.to_thread(broker.restart)
        restarted_at = time.monotonic()
        # the component reconnects by itself: generous bounds on a shared machine
        await wait_until(lambda: first_after is not None, within=120, what="a confirmed publish after the restart")
        count_at = len(confirmed)
        await wait_until(lambda: len(confirmed) >= count_at + 200, within=120, what="traffic after the restart")
        stop.set()
        await task
        await wait_until(lambda: confirmed <= received, within=60, what="every confirmed message")
        assert ps._conn is not None
        assert ps._conn.reconnects >= 1
    assert first_after is not None
    assert restarted_at is not None
    print(
        f"confirmed={len(confirmed)} received={len(received)} failed_publishes={failures} "
        f"first_confirm_after_restart={first_after - restarted_at:.2f}s"
    )
    lost = confirmed - received
    assert not lost, f"{len(lost)} confirmed messages lost"
    assert failures > 0, "the outage must have been observed by the publisher"

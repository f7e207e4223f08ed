"""Client recovery across a restart of the server, on a moto server these tests own.

A real AWS endpoint does not restart; moto does, and comes back with an empty memory: tables,
queues, topics and subscriptions are gone. So this is not a data-durability test (moto keeps no
data) but a recovery test: the same component instances, never re-initialised, work again once the
server is back — the state store once its table exists again, the pub/sub by recreating its own
topic, queue and subscription.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from aws_servers import MotoProcess

from blockyard.errors import BackendUnavailableError
from blockyard.pubsub import Message
from blockyard_aws.dynamodb import DynamoDBStateStore
from blockyard_aws.snssqs import SnsSqsPubSub


async def eventually(check: Callable[[], Any], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if await asyncio.to_thread(check):
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.1)


def _create_table(own_moto: MotoProcess) -> None:
    own_moto.aws().client("dynamodb").create_table(
        TableName="recovery",
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


async def test_clients_recover_after_a_server_restart(own_moto: MotoProcess) -> None:
    _create_table(own_moto)
    aws = own_moto.aws()
    md = aws.metadata(dialTimeout="1s", maxRetries="1", messageWaitTimeSeconds="1")
    received: list[Any] = []
    arrived = asyncio.Event()

    async def handle(message: Message) -> None:
        received.append(message.json())
        arrived.set()

    async with (
        DynamoDBStateStore({**md, "table": "recovery"}, name="state") as store,
        SnsSqsPubSub({**md, "consumerID": "recovery"}, name="pubsub") as broker,
    ):
        await store.set("before", {"n": 1})
        async with await broker.subscribe("orders", handle):
            await broker.publish("orders", {"n": 1})
            await asyncio.wait_for(arrived.wait(), 60)

            await asyncio.to_thread(own_moto.stop)
            with pytest.raises(BackendUnavailableError):
                await store.get("before")
            with pytest.raises(BackendUnavailableError):
                await broker.publish("orders", {"n": "lost"})
            await asyncio.to_thread(own_moto.start)

            # moto came back empty; the store works again as soon as its table exists again
            await asyncio.to_thread(_create_table, own_moto)
            etag = await store.set("after", {"n": 2})
            item = await store.get("after")
            assert item.json() == {"n": 2}
            assert item.etag == etag

            # the subscription's poller recreates topic, queue and subscription by itself
            sns = aws.client("sns")

            def subscribed() -> bool:
                topics = sns.list_topics()["Topics"]
                arns = [t["TopicArn"] for t in topics if t["TopicArn"].endswith(":orders")]
                return bool(arns) and bool(sns.list_subscriptions_by_topic(TopicArn=arns[0])["Subscriptions"])

            await eventually(subscribed)
            arrived.clear()
            await broker.publish("orders", {"n": 2})
            await asyncio.wait_for(arrived.wait(), 60)
    assert received[0] == {"n": 1}
    assert received[-1] == {"n": 2}

"""boto3 is blocking: every AWS call must run off the event loop.

Two checks: every HTTP request the components send is sent from a thread with no running event
loop (a botocore ``before-send`` hook records it), and a loop-lag probe under load stays far below
the lag of the same calls made directly on the loop (the defect the thread pool exists to avoid,
planted here as the comparison, so the probe is shown to catch it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aws_servers import Aws

from blockyard.pubsub import Message
from blockyard.state import SetRequest
from blockyard_aws.dynamodb import DynamoDBStateStore
from blockyard_aws.snssqs import SnsSqsPubSub

CALLS = 64


def _record_threads(component: Any, on_loop: list[str], off_loop: list[str]) -> None:
    def before_send(request: Any, **_: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            off_loop.append(request.url)
        else:
            on_loop.append(request.url)

    for client in component._clients.values():
        client.meta.events.register("before-send", before_send)


async def test_no_request_is_sent_from_the_event_loop(aws: Aws, table: str, ns: str) -> None:
    on_loop: list[str] = []
    off_loop: list[str] = []
    got = asyncio.Event()

    async def handle(message: Message) -> None:
        got.set()

    async with (
        DynamoDBStateStore(aws.metadata(table=table), name="state") as store,
        SnsSqsPubSub(aws.metadata(consumerID=ns), name="pubsub") as broker,
    ):
        _record_threads(store, on_loop, off_loop)
        _record_threads(broker, on_loop, off_loop)
        etag = await store.set("a", 1)
        await store.set("a", 2, etag=etag)
        await store.bulk_set([SetRequest("b", 1), SetRequest("c", 2)])
        await store.bulk_get(["a", "b", "c"])
        await store.transact([SetRequest("d", 1)])
        async with await broker.subscribe(ns, handle):
            await broker.publish(ns, {"x": 1})
            await asyncio.wait_for(got.wait(), 60)
    assert len(off_loop) >= 8, "the hook saw too few requests to mean anything"
    assert on_loop == [], f"{len(on_loop)} request(s) were sent from the event loop thread"


async def _max_lag_during(work: Callable[[], Awaitable[None]]) -> float:
    """The longest the event loop was late to wake a 5 ms sleeper while ``work`` ran."""
    worst = 0.0
    running = True

    async def probe() -> None:
        nonlocal worst
        while running:
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            worst = max(worst, time.perf_counter() - start - 0.005)

    task = asyncio.create_task(probe())
    await asyncio.sleep(0.02)
    try:
        await work()
    finally:
        running = False
        await task
    return worst


async def test_loop_lag_under_load_is_far_below_blocking_calls(aws: Aws, table: str) -> None:
    raw = aws.client("dynamodb")

    async with DynamoDBStateStore(aws.metadata(table=table), name="state") as store:

        async def through_blockyard() -> None:
            await asyncio.gather(*(store.set(f"k{i}", i) for i in range(CALLS)))
            await asyncio.gather(*(store.get(f"k{i}") for i in range(CALLS)))

        async def blocking_on_the_loop() -> None:
            async def one(i: int) -> None:  # the planted defect: boto3 called on the loop
                raw.put_item(TableName=table, Item={"key": {"S": f"r{i}"}, "value": {"S": str(i)}})
                raw.get_item(TableName=table, Key={"key": {"S": f"r{i}"}})

            await asyncio.gather(*(one(i) for i in range(CALLS)))

        blockyard_lag = await _max_lag_during(through_blockyard)
        blocking_lag = await _max_lag_during(blocking_on_the_loop)
    assert blocking_lag > 0.2, f"the planted blocking calls lagged the loop only {blocking_lag:.3f}s"
    # the planted defect blocks the loop for the whole batch; calls in worker threads leave it waiting
    # only for the GIL, which boto3's signing and parsing hold often on a busy 2-core machine
    assert blockyard_lag < blocking_lag / 2, (
        f"the event loop lagged {blockyard_lag:.3f}s under Blockyard's calls vs {blocking_lag:.3f}s blocking"
    )

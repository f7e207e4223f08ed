"""pubsub.redis against a real Redis server."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis_servers import Server, eventually

from blockyard.errors import ComponentConfigError
from blockyard.pubsub import BulkPublishEntry, HandlerResult, Message, PubSubFeature
from blockyard_redis.pubsub import RedisPubSub

FAST = {"processingTimeout": "1s", "redeliverInterval": "200ms"}


@pytest.fixture
async def broker(redis_server: Server) -> AsyncIterator[RedisPubSub]:
    async with RedisPubSub(redis_server.metadata(consumerID="app", **FAST), name="pubsub") as b:
        yield b


class TestRedisPubSub:
    async def test_publish_and_receive_with_metadata(self, broker: RedisPubSub, ns: str) -> None:
        got: list[Message] = []

        async def handle(m: Message) -> None:
            got.append(m)

        async with await broker.subscribe(ns, handle):
            await broker.publish(ns, {"n": 1}, metadata={"k": "v"}, content_type="application/json")
            await broker.publish(ns, b"raw")
            await eventually(lambda: len(got) == 2)
        first = got[0] if got[0].data != b"raw" else got[1]
        assert first.json() == {"n": 1}
        assert first.metadata == {"k": "v"}
        assert first.content_type == "application/json"
        assert first.id
        assert "-" in first.id

    async def test_default_consumer_group_is_consumer_id(self, broker: RedisPubSub, ns: str, raw: Any) -> None:
        async def handle(m: Message) -> None:
            return None

        async with await broker.subscribe(ns, handle) as sub:
            assert sub.consumer_group == "app"
            groups = await raw.xinfo_groups(ns)
            assert [g["name"] for g in groups] == [b"app"]

    async def test_groups_compete_inside_and_fan_out_across(self, broker: RedisPubSub, ns: str) -> None:
        a1: list[str] = []
        a2: list[str] = []
        b: list[str] = []

        def collect(into: list[str]) -> Any:
            async def handle(m: Message) -> None:
                into.append(m.json())
                await asyncio.sleep(0.001)

            return handle

        subs = [
            await broker.subscribe(ns, collect(a1), consumer_group="a"),
            await broker.subscribe(ns, collect(a2), consumer_group="a"),
            await broker.subscribe(ns, collect(b), consumer_group="b"),
        ]
        sent = [f"m{i}" for i in range(200)]
        for m in sent:
            await broker.publish(ns, m)
        await eventually(lambda: len(a1) + len(a2) == 200 and len(b) == 200)
        await asyncio.sleep(0.3)
        for s in subs:
            await s.cancel()
        assert sorted(a1 + a2) == sorted(sent)  # each message once inside group a
        assert sorted(b) == sorted(sent)  # and every message to group b
        assert a1
        assert a2

    @pytest.mark.parametrize("failure", ["retry", "raise"])
    async def test_failed_message_is_redelivered(self, broker: RedisPubSub, ns: str, raw: Any, failure: str) -> None:
        attempts: Counter[str] = Counter()

        async def handle(m: Message) -> HandlerResult | None:
            attempts[m.json()] += 1
            if m.json() == "flaky" and attempts["flaky"] < 3:
                if failure == "raise":
                    raise RuntimeError("boom")
                return HandlerResult.RETRY
            return None

        async with await broker.subscribe(ns, handle):
            await broker.publish(ns, "flaky")
            await broker.publish(ns, "fine")
            await eventually(lambda: attempts["flaky"] == 3)
            await eventually(lambda: pending_is_zero(raw, ns))
        assert attempts["fine"] == 1

    async def test_drop_is_acknowledged_and_not_redelivered(self, broker: RedisPubSub, ns: str, raw: Any) -> None:
        attempts: Counter[str] = Counter()

        async def handle(m: Message) -> HandlerResult:
            attempts[m.json()] += 1
            return HandlerResult.DROP

        async with await broker.subscribe(ns, handle):
            await broker.publish(ns, "x")
            await eventually(lambda: attempts["x"] == 1)
            await asyncio.sleep(1.6)  # past processingTimeout + redeliverInterval
        assert attempts["x"] == 1
        assert (await raw.xpending(ns, "app"))["pending"] == 0

    async def test_message_of_a_cancelled_subscriber_is_reclaimed(self, broker: RedisPubSub, ns: str) -> None:
        started = asyncio.Event()
        done: list[str] = []

        async def stuck(m: Message) -> None:
            started.set()
            await asyncio.sleep(3600)

        async def good(m: Message) -> None:
            done.append(m.json())

        first = await broker.subscribe(ns, stuck)
        await broker.publish(ns, "job")
        await asyncio.wait_for(started.wait(), 5)
        # cancel does not wait for the running handler (it would sleep an hour): the bound is the point
        await asyncio.wait_for(first.cancel(), 60)
        async with await broker.subscribe(ns, good):
            await eventually(lambda: done == ["job"])

    async def test_no_handler_call_after_cancel(self, broker: RedisPubSub, ns: str) -> None:
        calls: list[Any] = []
        witness: list[Any] = []

        async def handle(m: Message) -> None:
            calls.append(m.json())

        async def observe(m: Message) -> None:
            witness.append(m.json())

        sub = await broker.subscribe(ns, handle)
        await broker.publish(ns, "first")
        await eventually(lambda: calls == ["first"])
        await sub.cancel()
        # a subscriber in another group sees every later message: once it has them all, the
        # cancelled one had every chance to be (wrongly) called
        async with await broker.subscribe(ns, observe, consumer_group="witness"):
            for i in range(20):
                await broker.publish(ns, i)
            await eventually(lambda: len([w for w in witness if w != "first"]) == 20)
        assert calls == ["first"]

    async def test_bulk_publish_is_one_pipeline(self, own_redis: Server, ns: str) -> None:
        from redis.asyncio import Redis

        got: list[Any] = []

        async def handle(m: Message) -> None:
            got.append(m.json())

        # the server-wide counter is read on a server only this test uses
        raw = Redis(host=own_redis.host, port=own_redis.port)
        async with RedisPubSub(own_redis.metadata(consumerID="app", **FAST), name="pubsub") as broker:
            before = (await raw.info("stats"))["total_commands_processed"]
            entries = [BulkPublishEntry(str(i), {"i": i}, metadata={"e": str(i)}) for i in range(50)]
            await broker.bulk_publish(ns, entries)
            assert (await raw.info("stats"))["total_commands_processed"] - before <= 51  # 50 XADD + INFO
            assert await raw.xlen(ns) == 50
            async with await broker.subscribe(ns, handle):
                await eventually(lambda: len(got) == 50)
        await raw.aclose()
        assert sorted(g["i"] for g in got) == list(range(50))

    async def test_max_len_approx_trims_the_stream(self, redis_server: Server, ns: str, raw: Any) -> None:
        async with RedisPubSub(redis_server.metadata(maxLenApprox="10"), name="trim") as b:
            for i in range(600):
                await b.publish(ns, i)
        assert await raw.xlen(ns) < 300

    async def test_expired_message_is_not_delivered(self, broker: RedisPubSub, ns: str) -> None:
        got: list[Any] = []

        async def handle(m: Message) -> None:
            got.append(m.json())

        await broker.publish(ns, "short", ttl=1)
        await broker.publish(ns, "long", metadata={"ttlInSeconds": "60"})
        await asyncio.sleep(1.1)
        async with await broker.subscribe(ns, handle):
            await eventually(lambda: got == ["long"])
            await asyncio.sleep(0.2)
        assert got == ["long"]

    async def test_redelivery_off_narrows_features(self, redis_server: Server) -> None:
        b = RedisPubSub(redis_server.metadata(redeliverInterval="0"), name="p")
        assert PubSubFeature.REDELIVERY not in b.features
        assert PubSubFeature.REDELIVERY in RedisPubSub.features

    def test_trim_options_are_exclusive(self, redis_server: Server) -> None:
        with pytest.raises(ComponentConfigError, match="maxLenApprox"):
            RedisPubSub(redis_server.metadata(maxLenApprox="10", streamTTL="1h"), name="p")


async def pending_is_zero(raw: Any, topic: str) -> bool:
    return bool((await raw.xpending(topic, "app"))["pending"] == 0)

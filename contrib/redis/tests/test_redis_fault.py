"""Fault injection: a launcher restarts its own Redis under a running publisher and subscriber.

The test's Redis is started by a private launcher on a port of its own (whatever already listens on
the standard port or is given in ``BLOCKYARD_REDIS_URL`` is never touched). It writes an
append-only file that survives ``Launcher.restart``, so everything Redis acknowledged before the
restart must come back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from redis_servers import Server, eventually

from blockyard.errors import BackendUnavailableError
from blockyard.pubsub import Message
from blockyard_redis.bindings import RedisBinding
from blockyard_redis.pubsub import RedisPubSub
from blockyard_redis.state import RedisStateStore

real_backends = pytest.importorskip(
    "blockyard_conformance.real_backends", reason="the backend launcher (blockyard-conformance) is not installed"
)


@pytest.fixture
def restartable_redis() -> Iterator[tuple[Any, Server]]:
    """A Redis of this test's own (private launcher, own port) and the launcher that restarts it."""
    with real_backends.own_backend("redis") as (launcher, ep):
        yield launcher, Server(ep.host, ep.port, None)


TOTAL = 300
RESTART_AFTER = 100


@pytest.mark.backend("redis", own=True)
async def test_restart_loses_no_acknowledged_message_and_no_state(
    restartable_redis: tuple[Any, Server],
) -> None:
    launcher, server = restartable_redis
    md = server.metadata(dialTimeout="1s")
    md_pubsub = {**md, "processingTimeout": "1s", "redeliverInterval": "200ms"}
    received: set[str] = set()
    confirmed: list[str] = []
    failures = 0

    async def handle(m: Message) -> None:
        received.add(m.json())

    async with (
        RedisStateStore(md, name="state") as store,
        RedisPubSub(md_pubsub, name="pubsub") as broker,
        RedisBinding(md, name="binding") as binding,
    ):
        etag = await store.set("before-restart", {"kept": True})
        await binding.invoke("create", b"kept", metadata={"key": "binding-key"})
        sub = await broker.subscribe("orders", handle, consumer_group="fault")
        restarted = asyncio.Event()
        run_id_before = await _run_id(server)

        async def restarter() -> None:
            await eventually(lambda: len(confirmed) >= RESTART_AFTER)
            # publishes, reads and acks fail while the server is down
            await asyncio.to_thread(launcher.restart, "redis")
            restarted.set()

        async def publisher() -> None:
            nonlocal failures
            i = 0
            while i < TOTAL:
                try:
                    await broker.publish("orders", f"m{i}")
                except BackendUnavailableError:
                    failures += 1  # not confirmed: try the same message again
                    await asyncio.sleep(0.05)
                    continue
                confirmed.append(f"m{i}")
                i += 1
                await asyncio.sleep(0.002)

        await asyncio.wait_for(asyncio.gather(restarter(), publisher()), 60)
        try:
            await eventually(lambda: set(confirmed) <= received, within=20)
        except AssertionError:
            pass  # reported below with the lost messages
        assert restarted.is_set()
        assert len(confirmed) == TOTAL
        assert await _run_id(server) != run_id_before  # a new server process answered
        # a publish during the outage either failed (and the publisher retried it) or was retried
        # by the client's own backoff: none that was confirmed may be missing
        assert set(confirmed) <= received, f"lost: {sorted(set(confirmed) - received)[:10]}"

        # state written before the restart is read back, and ETags keep working
        item = await store.get("before-restart")
        assert item.json() == {"kept": True}
        assert item.etag == etag
        await store.set("before-restart", {"kept": "updated"}, etag=etag)
        assert (await binding.invoke("get", metadata={"key": "binding-key"})).data == b"kept"
        await sub.cancel()


async def _run_id(server: Server) -> str:
    import redis.asyncio as aioredis

    client = aioredis.Redis(host=server.host, port=server.port)
    try:
        info = await client.info("server")
        return str(info["run_id"])
    finally:
        await client.aclose()

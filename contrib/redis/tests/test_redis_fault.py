"""Fault injection: the launcher restarts its own Redis under a running publisher and subscriber.

The launcher's Redis writes an append-only file that survives ``Launcher.restart``, so everything
Redis acknowledged before the restart must come back. The launcher never restarts a server it did
not start (one from ``BLOCKYARD_REDIS_URL`` or already listening): then the test is not run.
"""

from __future__ import annotations

import asyncio

import pytest
from redis_servers import Server, eventually

from blockyard.errors import BackendUnavailableError
from blockyard.pubsub import Message
from blockyard_redis.bindings import RedisBinding
from blockyard_redis.pubsub import RedisPubSub
from blockyard_redis.state import RedisStateStore

launcher_module = pytest.importorskip(
    "blockyard_conformance.backends.launcher", reason="the backend launcher (blockyard-conformance) is not installed"
)


@pytest.fixture
def restartable_redis() -> Server:
    """The launcher's own Redis; the test is not run when the launcher did not start it."""
    launcher = launcher_module.get_launcher()
    ep = launcher.up("redis")
    (status,) = launcher.status("redis")
    if status.source not in ("native", "docker"):
        pytest.skip(f"the launcher did not start this Redis ({status.source}); it restarts only its own servers")
    return Server(ep.host, ep.port, None)


TOTAL = 300
RESTART_AFTER = 100


async def test_restart_loses_no_acknowledged_message_and_no_state(
    restartable_redis: Server,
) -> None:
    md = restartable_redis.metadata(dialTimeout="1s")
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
        run_id_before = await _run_id(restartable_redis)

        async def restarter() -> None:
            await eventually(lambda: len(confirmed) >= RESTART_AFTER)
            # publishes, reads and acks fail while the server is down
            await asyncio.to_thread(launcher_module.get_launcher().restart, "redis")
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
        assert await _run_id(restartable_redis) != run_id_before  # a new server process answered
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

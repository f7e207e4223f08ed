"""The connection pool under more callers than connections: callers are served in arrival order, so
none starves past the pool timeout while the others progress (redis-py's own blocking pool lets a
caller that arrives later take a freed connection first)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis_servers import Server

from blockyard_redis.pool import FairConnectionPool
from blockyard_redis.state import RedisStateStore

CALLERS, CALLS, POOL, WAIT = 128, 200, 2, 1.0


async def _hammer(client: Any, key: str) -> None:
    async def caller() -> None:
        for _ in range(CALLS):
            await client.get(key)

    await asyncio.gather(*(caller() for _ in range(CALLERS)))


async def test_many_more_callers_than_connections_all_get_served(redis_server: Server) -> None:
    md = redis_server.metadata(poolSize=str(POOL), poolTimeout=f"{WAIT}s")
    async with RedisStateStore(md, name="crowded") as store:
        await store.set("pool-probe", b"x")
        await _hammer(store, "pool-probe")


@pytest.mark.parametrize("pool_class", [FairConnectionPool, BlockingConnectionPool], ids=["fair", "redis-py"])
async def test_the_fair_pool_is_what_keeps_every_caller_served(redis_server: Server, pool_class: type) -> None:
    """The same load on the fair pool passes and on redis-py's pool starves a caller (the defect the
    fair pool exists for); if redis-py's pool ever stops starving, this test says so."""
    server = {"host": redis_server.host, "port": redis_server.port, "password": redis_server.password}
    pool = pool_class(**server, max_connections=POOL, timeout=WAIT)
    client = Redis(connection_pool=pool)
    try:
        if pool_class is FairConnectionPool:
            await _hammer(client, "pool-probe-raw")
        else:
            with pytest.raises(RedisConnectionError, match="No connection available"):
                await _hammer(client, "pool-probe-raw")
    finally:
        await client.aclose()

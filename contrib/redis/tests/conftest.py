"""Fixtures: real Redis servers (see :mod:`redis_servers`), a namespace per test, a raw client."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from redis_servers import RedisProcess, Server, launcher_up


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A Redis server without password (the launcher's ``redis`` backend, or our own)."""
    found = launcher_up("redis")
    if found is not None:
        yield found
        return
    proc = RedisProcess(tmp_path_factory.mktemp("redis"))
    proc.start()
    yield proc.server()
    proc.stop()


@pytest.fixture(scope="session")
def redis_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A Redis server with ``requirepass`` (the launcher's ``redis-auth`` backend, or our own)."""
    found = launcher_up("redis-auth")
    if found is not None:
        yield found
        return
    proc = RedisProcess(tmp_path_factory.mktemp("redis-auth"), password=secrets.token_urlsafe(18))
    proc.start()
    yield proc.server()
    proc.stop()


@pytest.fixture
def ns() -> str:
    """A fresh namespace (key prefix / topic) per test."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def raw(redis_server: Server) -> Any:
    """A plain redis-py client on the same server, to observe what the components wrote."""
    from redis.asyncio import Redis

    client = Redis(host=redis_server.host, port=redis_server.port, password=redis_server.password)
    yield client
    await client.aclose()

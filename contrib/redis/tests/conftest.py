"""Fixtures: real Redis servers (see :mod:`redis_servers`), a namespace per test, a raw client."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_servers import RedisProcess, Server, launcher_up


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests reaching a real server through these fixtures carry ``backend(name)`` (counted, decided up front)."""
    try:
        from blockyard_conformance.real_backends import mark_backend_fixtures
    except ImportError:  # the kit is not installed: the fixtures start their own servers
        return
    mark_backend_fixtures(items, redis_server="redis", redis_auth_server="redis-auth", own_redis="redis")


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
def own_redis(tmp_path: Path) -> Iterator[Server]:
    """A Redis only this test uses (for server-wide counters): a private launcher's, else our own."""
    try:
        from blockyard_conformance.real_backends import own_backend
    except ImportError:
        proc = RedisProcess(tmp_path)
        proc.start()
        yield proc.server()
        proc.stop()
        return
    with own_backend("redis") as (_launcher, ep):
        yield Server(ep.host, ep.port, None)


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

"""bindings.redis against a real Redis server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis_servers import Server

from blockyard.errors import InvalidRequestError, NotSupportedError
from blockyard_redis.bindings import RedisBinding


@pytest.fixture
async def binding(redis_server: Server) -> AsyncIterator[RedisBinding]:
    async with RedisBinding(redis_server.metadata(), name="cache") as b:
        yield b


class TestRedisBinding:
    async def test_create_get_delete(self, binding: RedisBinding, ns: str, raw: Any) -> None:
        assert (await binding.invoke("create", {"a": 1}, metadata={"key": ns})).data is None
        assert (await binding.invoke("get", metadata={"key": ns})).json() == {"a": 1}
        assert await raw.pttl(ns) == -1
        await binding.invoke("delete", metadata={"key": ns})
        assert (await binding.invoke("get", metadata={"key": ns})).data is None
        await binding.invoke("delete", metadata={"key": ns})  # missing key: no error

    async def test_get_with_delete_is_getdel(self, binding: RedisBinding, ns: str, raw: Any) -> None:
        await binding.invoke("create", "text", metadata={"key": ns})
        got = await binding.invoke("get", metadata={"key": ns, "delete": "true"})
        assert got.data == b"text"
        assert await raw.exists(ns) == 0

    async def test_create_with_ttl_is_set_ex(self, binding: RedisBinding, ns: str, raw: Any) -> None:
        await binding.invoke("create", b"v", metadata={"key": ns, "ttlInSeconds": "100"})
        assert 98_000 < await raw.pttl(ns) <= 100_000
        await binding.invoke("create", b"v2", metadata={"key": ns})
        assert await raw.pttl(ns) == -1  # a create without TTL removes it

    async def test_increment_with_and_without_ttl(self, binding: RedisBinding, ns: str, raw: Any) -> None:
        assert (await binding.invoke("increment", metadata={"key": ns})).data == b"1"
        assert await raw.pttl(ns) == -1
        got = await binding.invoke("increment", metadata={"key": ns, "ttlInSeconds": "100"})
        assert got.data == b"2"
        assert 98_000 < await raw.pttl(ns) <= 100_000

    @pytest.mark.parametrize("operation", ["create", "get", "delete", "increment"])
    async def test_key_is_required(self, binding: RedisBinding, operation: str) -> None:
        with pytest.raises(InvalidRequestError, match="'key'") as info:
            await binding.invoke(operation, b"x", metadata={})
        assert info.value.component == "cache"

    async def test_bad_ttl_and_unknown_operation(self, binding: RedisBinding, ns: str) -> None:
        with pytest.raises(InvalidRequestError, match="ttlInSeconds"):
            await binding.invoke("create", b"x", metadata={"key": ns, "ttlInSeconds": "abc"})
        with pytest.raises(NotSupportedError, match="increment"):
            await binding.invoke("list", metadata={"key": ns})

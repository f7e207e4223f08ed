"""``bindings.redis``: an output binding for plain Redis string keys.

Operations (request metadata ``key`` is required by all; ``ttlInSeconds`` is optional):

- ``create``: ``SET key data`` — with ``ttlInSeconds``, ``SET key data EX ttl`` (one atomic step);
  without, any earlier TTL is removed.
- ``get``: ``GET key`` — with metadata ``delete: "true"``, ``GETDEL`` (read and delete at once).
  A missing key returns ``data=None``, not an error.
- ``delete``: ``DEL key`` (a missing key is not an error).
- ``increment``: ``INCR key`` and, with ``ttlInSeconds``, ``EXPIRE`` in the same script; returns
  the new value as ``data`` (decimal bytes).

Example::

    import asyncio
    from blockyard_redis.bindings import RedisBinding

    async def main() -> None:
        async with RedisBinding({"redisHost": "localhost:6379"}, name="cache") as cache:
            await cache.invoke("create", b"hello", metadata={"key": "greeting", "ttlInSeconds": "60"})
            print((await cache.invoke("get", metadata={"key": "greeting"})).data)
            print((await cache.invoke("increment", metadata={"key": "hits"})).data)

    asyncio.run(main())
"""

from __future__ import annotations

from typing import Any, ClassVar

from blockyard.bindings import BindingResponse, InvokeRequest, OutputBinding
from blockyard.errors import InvalidRequestError
from blockyard.state import TTL_METADATA, parse_ttl
from blockyard_redis.connection import RedisClientMixin, RedisConnectionMetadata

__all__ = ["RedisBinding", "RedisBindingMetadata"]

_INCREMENT = r"""
local v = redis.call('INCR', KEYS[1])
if tonumber(ARGV[1]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return v
"""


class RedisBindingMetadata(RedisConnectionMetadata):
    """Metadata of ``bindings.redis``: the shared connection fields."""


class RedisBinding(RedisClientMixin, OutputBinding):
    """Output binding on Redis string keys; see the module docstring for the operations."""

    type: ClassVar[str] = "bindings.redis"
    Metadata = RedisBindingMetadata
    operations: ClassVar[frozenset[str]] = frozenset({"create", "get", "delete", "increment"})

    async def _init(self) -> None:
        await super()._init()
        self._increment = self._client.register_script(_INCREMENT)

    async def _invoke(self, req: InvokeRequest) -> BindingResponse:
        md = req.metadata
        key = md.get("key")
        if not key:
            raise InvalidRequestError(
                "request metadata 'key' is required (the Redis key to operate on)", operation=req.operation, key="key"
            )
        ttl = parse_ttl(md.get(TTL_METADATA), component=self.name, key=key)
        op = req.operation
        client: Any = self._client
        if op == "create":
            if ttl:
                await client.execute_command("SET", key, req.data or b"", "EX", ttl)
            else:
                await client.execute_command("SET", key, req.data or b"")
            return BindingResponse()
        if op == "get":
            if md.get("delete", "").lower() == "true":
                return BindingResponse(await client.execute_command("GETDEL", key))
            return BindingResponse(await client.execute_command("GET", key))
        if op == "delete":
            await client.execute_command("DEL", key)
            return BindingResponse()
        value = await self._increment(keys=(key,), args=(ttl or 0,))
        return BindingResponse(str(value).encode())

"""Connection metadata and client shared by ``state.redis``, ``pubsub.redis`` and ``bindings.redis``.

:class:`RedisConnectionMetadata` holds Dapr's REDIS-CONN fields; every Redis component's model
extends it. :class:`RedisClientMixin` gives a component its lifecycle on one redis-py asyncio
client: ``init()`` connects and pings within ``dialTimeout``, ``close()`` releases the pool, and
redis-py errors are translated (refused credentials -> :class:`AuthenticationError`, unreachable
or timed out -> :class:`BackendUnavailableError`).

Reconnection: every command is retried ``redisMaxRetries`` times on connection and timeout errors,
with an exponential backoff from ``redisMinRetryInterval`` to ``redisMaxRetryInterval``; a broken
connection is replaced by the pool, so a restarted server is picked up without restarting the app.

Fields Dapr defines that are not implemented here (cluster, Sentinel failover, OIDC, Entra ID,
client certificates, go-redis idle-pool tuning) are rejected at load, never silently ignored.
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import field_validator

from blockyard.errors import (
    AuthenticationError,
    BackendUnavailableError,
    BlockyardError,
)
from blockyard.metadata import ComponentMetadata, Duration, PositiveDuration, SecretStr, SignedDuration, meta

__all__ = ["RedisClientMixin", "RedisConnectionMetadata", "redis_error_class"]

_NOT_POOL = "redis-py's connection pool has no equivalent setting; remove the field"

_UNSUPPORTED: dict[str, str] = {
    "sentinelMasterName": "Redis Sentinel failover is not implemented",
    "sentinelUsername": "Redis Sentinel failover is not implemented",
    "sentinelPassword": "Redis Sentinel failover is not implemented",
    "clientCert": "TLS client certificates are not implemented (enableTLS with server verification is)",
    "clientKey": "TLS client certificates are not implemented (enableTLS with server verification is)",
    "oidcTokenEndpoint": "OIDC authentication is not implemented",
    "oidcClientID": "OIDC authentication is not implemented",
    "oidcClientAssertionCert": "OIDC authentication is not implemented",
    "oidcClientAssertionKey": "OIDC authentication is not implemented",
    "oidcResource": "OIDC authentication is not implemented",
    "oidcAudience": "OIDC authentication is not implemented",
    "oidcScopes": "OIDC authentication is not implemented",
    "oidcKid": "OIDC authentication is not implemented",
    "oidcCACert": "OIDC authentication is not implemented",
    "azureClientId": "Microsoft Entra ID authentication is not implemented",
    "azureTenantId": "Microsoft Entra ID authentication is not implemented",
    "azureClientSecret": "Microsoft Entra ID authentication is not implemented",
    "maxConnAge": _NOT_POOL,
    "minIdleConns": _NOT_POOL,
    "idleCheckFrequency": _NOT_POOL,
    "idleTimeout": _NOT_POOL,
}


def _only_false(name: str, why: str) -> Any:
    def check(value: bool) -> bool:
        if value:
            raise ValueError(f"only 'false' is supported: {why}")
        return value

    check.__name__ = f"check_{name}"
    return check


class RedisConnectionMetadata(ComponentMetadata):
    """Dapr's REDIS-CONN connection fields (single node, optional TLS and ACL user)."""

    unsupported: ClassVar[dict[str, str]] = _UNSUPPORTED

    redis_host: str = meta(
        description="host:port of the Redis server (one node; a comma-separated list means cluster, not supported)",
        example="localhost:6379",
    )
    redis_port: int | None = meta(None, description="port, when redisHost has none (default 6379)", example="6379")
    redis_type: Literal["node"] = meta(
        "node", description="'node' (cluster mode is not implemented)", allowed=("node",)
    )
    redis_db: int = meta(0, description="database number", alias="redisDB", example="0")
    redis_username: str | None = meta(None, description="ACL user name (Redis 6+)")
    redis_password: SecretStr | None = meta(None, description="password (sensitive)")
    enable_tls: bool = meta(False, description="connect over TLS", alias="enableTLS")
    insecure_skip_tls_verify: bool = meta(
        False, description="with enableTLS, do not verify the server certificate", alias="insecureSkipTLSVerify"
    )
    failover: bool = meta(False, description="Sentinel failover (only false: not implemented)")
    use_oidc: bool = meta(False, description="OIDC authentication (only false: not implemented)", alias="useOIDC")
    use_entra_id: bool = meta(
        False, description="Entra ID authentication (only false: not implemented)", alias="useEntraID"
    )
    redis_max_retries: int = meta(
        3, description="retries of a command on connection errors and timeouts (-1: none)", aliases=("maxRetries",)
    )
    redis_min_retry_interval: SignedDuration = meta(
        timedelta(milliseconds=8),
        description="first backoff between retries (-1: no backoff, as in Dapr)",
        aliases=("minRetryInterval",),
    )
    redis_max_retry_interval: SignedDuration = meta(
        timedelta(milliseconds=512),
        description="largest backoff between retries (-1: no backoff, as in Dapr)",
        aliases=("maxRetryInterval",),
    )
    dial_timeout: PositiveDuration = meta(timedelta(seconds=5), description="connect timeout; init() fails after it")
    read_timeout: PositiveDuration = meta(timedelta(seconds=3), description="socket read timeout")
    write_timeout: Duration | None = meta(
        None, description="socket write timeout (redis-py has one socket timeout: the larger of read and write)"
    )
    pool_size: int | None = meta(None, description="largest number of connections (default 10 per CPU)")
    pool_timeout: Duration | None = meta(
        None, description="how long a command waits for a free connection (default readTimeout + 1s)"
    )

    _check_failover = field_validator("failover")(_only_false("failover", "Sentinel failover is not implemented"))
    _check_oidc = field_validator("use_oidc")(_only_false("useOIDC", "OIDC authentication is not implemented"))
    _check_entra = field_validator("use_entra_id")(
        _only_false("useEntraID", "Entra ID authentication is not implemented")
    )

    @field_validator("redis_type", mode="before")
    @classmethod
    def _check_type(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() == "node":
            return "node"
        raise ValueError("only 'node' is supported: cluster mode is not implemented")

    @field_validator("redis_host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("expected host or host:port")
        if "," in value:
            raise ValueError("a comma-separated host list means cluster mode, which is not implemented")
        return value

    @field_validator("redis_db", "redis_max_retries", "pool_size")
    @classmethod
    def _check_ints(cls, value: int | None, info: Any) -> int | None:
        if value is None:
            return value
        low = -1 if info.field_name == "redis_max_retries" else 0 if info.field_name == "redis_db" else 1
        if value < low:
            raise ValueError(f"expected an integer >= {low}")
        return value

    def address(self) -> tuple[str, int]:
        """``(host, port)`` from ``redisHost`` (``host:port``, ``[v6]:port`` or a bare host) and ``redisPort``."""
        host = self.redis_host
        if host.startswith("["):
            end = host.find("]")
            h, rest = host[1:end], host[end + 1 :]
            return h, int(rest[1:]) if rest.startswith(":") else (self.redis_port or 6379)
        if host.count(":") == 1:
            h, _, p = host.partition(":")
            return h, int(p)
        return host, self.redis_port or 6379

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`redis.asyncio.Redis` / a connection pool (no pool size)."""
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff

        host, port = self.address()
        read = self.read_timeout.total_seconds()
        write = self.write_timeout.total_seconds() if self.write_timeout is not None else read
        retries = max(self.redis_max_retries, 0)
        backoff = ExponentialBackoff(
            cap=max(self.redis_max_retry_interval.total_seconds(), 0.0),
            base=max(self.redis_min_retry_interval.total_seconds(), 0.0),
        )
        kwargs: dict[str, Any] = {
            "host": host,
            "port": port,
            "db": self.redis_db,
            "username": self.redis_username or None,
            "password": self.redis_password.get_secret_value() if self.redis_password else None,
            "socket_timeout": max(read, write) or None,
            "socket_connect_timeout": self.dial_timeout.total_seconds() or None,
            "retry": Retry(backoff, retries),
            "decode_responses": False,
        }
        if self.enable_tls:
            kwargs["ssl"] = True
            if self.insecure_skip_tls_verify:
                kwargs["ssl_cert_reqs"] = "none"
                kwargs["ssl_check_hostname"] = False
        return kwargs

    def pool_limits(self) -> tuple[int, float]:
        """``(max connections, seconds to wait for a free one)``."""
        size = self.pool_size or 10 * (os.cpu_count() or 1)
        wait = self.pool_timeout or (self.read_timeout + timedelta(seconds=1))
        return size, wait.total_seconds()


def redis_error_class(exc: BaseException) -> type[BlockyardError] | None:
    """The Blockyard error class for a redis-py exception (``None``: the default mapping)."""
    from redis import exceptions as rx

    if isinstance(exc, rx.AuthenticationError):
        return AuthenticationError
    if isinstance(exc, rx.ResponseError):
        text = str(exc)
        if text.startswith(("WRONGPASS", "NOAUTH", "invalid password", "invalid username-password")):
            return AuthenticationError
        if text.startswith(("LOADING", "MASTERDOWN", "READONLY", "BUSY ")):
            return BackendUnavailableError
        return None
    if isinstance(exc, (rx.ConnectionError, rx.TimeoutError, asyncio.TimeoutError, ConnectionError)):
        return BackendUnavailableError
    return None


class RedisClientMixin:
    """Lifecycle on one pooled redis-py asyncio client; mix in before the building block's base.

    Sets ``self._client`` in ``_init``. The component's ``Metadata`` must extend
    :class:`RedisConnectionMetadata`.
    """

    meta: Any
    name: str
    _client: Any = None

    def _make_client(self) -> Any:
        from redis.asyncio import Redis
        from redis.asyncio.connection import SSLConnection

        from blockyard_redis.pool import FairConnectionPool

        md: RedisConnectionMetadata = self.meta
        size, wait = md.pool_limits()
        kwargs = md.client_kwargs()
        if kwargs.pop("ssl", False):
            kwargs["connection_class"] = SSLConnection
        pool = FairConnectionPool(max_connections=size, timeout=wait, **kwargs)
        return Redis.from_pool(pool)  # the client owns the pool: aclose() disconnects its connections

    def _make_dedicated_client(self, extra_timeout: float = 0.0) -> Any:
        """A client with one connection of its own (blocking reads), not taken from the pool."""
        from redis.asyncio import Redis

        kwargs = self.meta.client_kwargs()
        if extra_timeout and kwargs["socket_timeout"] is not None:
            kwargs["socket_timeout"] += extra_timeout
        return Redis(single_connection_client=True, **kwargs)

    async def _init(self) -> None:
        self._client = self._make_client()
        try:
            await self._ping_within_dial_timeout(self._client)
        except BaseException:
            await self._client.aclose()
            self._client = None
            raise

    async def _ping_within_dial_timeout(self, client: Any) -> None:
        limit = self.meta.dial_timeout.total_seconds() or None
        try:
            async with asyncio.timeout(limit):
                await client.ping()
        except TimeoutError:
            raise BackendUnavailableError(f"no answer from the Redis server within dialTimeout ({limit}s)") from None

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _ping(self) -> None:
        await self._client.ping()

    def _translate_error(self, exc: BaseException) -> type[BlockyardError] | None:
        return redis_error_class(exc)

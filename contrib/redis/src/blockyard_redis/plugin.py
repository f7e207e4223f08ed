"""Plugin hooks of ``blockyard-redis`` (imports no Redis client): component specs and conformance cases."""

from __future__ import annotations

from pathlib import Path

from blockyard.hookspecs import hookimpl
from blockyard.registry import ComponentSpec

__all__ = ["BLOCKYARD_CONTRACT", "SPECS", "blockyard_components", "blockyard_conformance_cases"]

#: The Blockyard plugin contract this plugin implements (see :mod:`blockyard.contract`).
BLOCKYARD_CONTRACT = "1.0"

SPECS: tuple[ComponentSpec, ...] = (
    ComponentSpec(
        "state",
        "redis",
        "blockyard_redis.state:RedisStateStore",
        status="alpha",
        features=("DELETE_WITH_PREFIX", "ETAG", "FIRST_WRITE", "KEYS_LIKE", "TRANSACTIONAL", "TTL", "TTL_EXPIRE_TIME"),
        description="Redis state store: atomic Lua writes, ETags, TTL, transactions",
        distribution="blockyard-redis",
    ),
    ComponentSpec(
        "pubsub",
        "redis",
        "blockyard_redis.pubsub:RedisPubSub",
        status="alpha",
        features=("BULK_PUBSUB", "CONSUMER_GROUPS", "MESSAGE_TTL", "REDELIVERY"),
        description="Redis Streams pub/sub: consumer groups, at-least-once redelivery",
        distribution="blockyard-redis",
    ),
    ComponentSpec(
        "bindings",
        "redis",
        "blockyard_redis.bindings:RedisBinding",
        status="alpha",
        operations=("create", "delete", "get", "increment"),
        direction="output",
        description="Redis string keys: create, get (GETDEL), delete, increment",
        distribution="blockyard-redis",
    ),
)


@hookimpl
def blockyard_components() -> list[ComponentSpec]:
    """The three Redis components."""
    return list(SPECS)


@hookimpl(optionalhook=True)
def blockyard_conformance_cases() -> list[Path]:
    """The conformance cases of the Redis components (run against the ``redis`` backend)."""
    return [Path(__file__).parent / "conformance" / "cases.yaml"]

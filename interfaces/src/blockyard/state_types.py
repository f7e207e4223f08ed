"""The values a state store takes and returns: features, options, items, requests and ops.

Re-exported by :mod:`blockyard.state`; import them from there.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from blockyard.errors import BlockyardError
from blockyard.values import decode_json

__all__ = [
    "TTL_EXPIRE_TIME",
    "Concurrency",
    "Consistency",
    "DeleteOp",
    "DeleteRequest",
    "KeysPage",
    "QueryResult",
    "SetOp",
    "SetRequest",
    "StateFeature",
    "StateItem",
    "compile_like",
    "format_expire_time",
]

TTL_EXPIRE_TIME = "ttlExpireTime"
"""Response metadata key carrying the expiry as RFC 3339 UTC."""


def compile_like(pattern: str) -> re.Pattern[str]:
    """The ``keys_like`` pattern language as a regular expression; use it with ``fullmatch``.

    ``%`` matches any run of characters (also none), ``_`` exactly one; every other character is
    literal (there is no escape syntax) and matching is case-sensitive.
    """
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts), re.DOTALL)


def format_expire_time(epoch_seconds: float) -> str:
    """The ``ttlExpireTime`` text for an expiry at ``epoch_seconds``: RFC 3339 UTC, whole seconds."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StateFeature(enum.StrEnum):
    """Optional capabilities of a state store (Dapr's names, plus Blockyard's own)."""

    ETAG = "ETAG"
    """Writes return and check ETags; every write changes the ETag."""
    TRANSACTIONAL = "TRANSACTIONAL"
    """``transact()`` applies all operations in order, or none (every ETag is checked first)."""
    TTL = "TTL"
    """Items expire ``ttl`` seconds after their write; the TTL is written with the value."""
    QUERY_API = "QUERY_API"
    """``query()`` filters, sorts and pages JSON values."""
    DELETE_WITH_PREFIX = "DELETE_WITH_PREFIX"
    """``delete_with_prefix()`` deletes the keys directly under a ``||``-separated prefix."""
    KEYS_LIKE = "KEYS_LIKE"
    """``keys_like()`` lists keys matching an SQL LIKE pattern, with paging."""
    PARTITION_KEY = "PARTITION_KEY"
    """Requests may carry a ``partitionKey`` metadata."""
    FIRST_WRITE = "FIRST_WRITE"
    """``concurrency="first-write"`` without an ETag is an atomic insert-if-absent (Blockyard's)."""
    TTL_EXPIRE_TIME = "TTL_EXPIRE_TIME"
    """``get`` returns ``metadata["ttlExpireTime"]`` for items with a TTL (Blockyard's)."""


class Consistency(enum.StrEnum):
    """Read/write consistency requested from the store."""

    EVENTUAL = "eventual"
    STRONG = "strong"


class Concurrency(enum.StrEnum):
    """Write concurrency: ``last-write`` (default) or ``first-write`` (insert-if-absent without ETag)."""

    FIRST_WRITE = "first-write"
    LAST_WRITE = "last-write"


@dataclass(slots=True)
class StateItem:
    """One key as read from the store. ``value is None`` means there is no item."""

    key: str
    value: bytes | None = None
    etag: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    error: BlockyardError | None = None
    """Set only in ``bulk_get`` results, for a key that could not be read."""

    @property
    def found(self) -> bool:
        """True when the key holds a value."""
        return self.value is not None

    def json(self) -> Any:
        """The value decoded as JSON (``None`` when there is no item)."""
        return decode_json(self.value)


@dataclass(slots=True)
class SetRequest:
    """A write, for ``bulk_set`` and ``transact``; arguments as in :meth:`StateStore.set`."""

    key: str
    value: Any
    etag: str | None = None
    ttl: int | None = None
    concurrency: Concurrency | str | None = None
    consistency: Consistency | str | None = None
    metadata: Mapping[str, str] | None = None
    content_type: str | None = None


@dataclass(slots=True)
class DeleteRequest:
    """A delete, for ``bulk_delete`` and ``transact``; arguments as in :meth:`StateStore.delete`."""

    key: str
    etag: str | None = None
    concurrency: Concurrency | str | None = None
    consistency: Consistency | str | None = None
    metadata: Mapping[str, str] | None = None


@dataclass(slots=True)
class SetOp:
    """A validated write as a plugin receives it.

    ``first_write`` is True for an insert-if-absent (first-write concurrency, no ETag). ``ttl`` is
    ``None`` for no expiry, else positive seconds. ``etag`` is ``None`` or non-empty.
    """

    key: str
    value: bytes
    etag: str | None
    first_write: bool
    ttl: int | None
    consistency: Consistency | None
    metadata: Mapping[str, str]
    content_type: str | None


@dataclass(slots=True)
class DeleteOp:
    """A validated delete as a plugin receives it; ``etag`` is ``None`` or non-empty."""

    key: str
    etag: str | None
    consistency: Consistency | None
    metadata: Mapping[str, str]


@dataclass(slots=True)
class KeysPage:
    """One page of ``keys_like`` results; ``continuation_token`` is ``None`` on the last page."""

    keys: list[str]
    continuation_token: str | None = None


@dataclass(slots=True)
class QueryResult:
    """Results of ``query``; ``token`` pages onwards when not ``None``."""

    results: list[StateItem]
    token: str | None = None

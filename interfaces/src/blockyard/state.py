"""The state store contract.

Semantics (Dapr's, tightened where Dapr is loose):

- A missing key reads as "no item" (``StateItem.value is None``), never an error; deleting a missing
  key succeeds.
- Values are bytes on the wire; anything else is JSON-encoded (:mod:`blockyard.values`).
- With :attr:`StateFeature.ETAG`, every successful write changes the key's ETag and ``set`` returns
  the new one. A write or delete whose ETag does not match (or whose key is absent) raises
  :class:`~blockyard.errors.ETagMismatchError`; an ETag the store cannot parse raises
  :class:`~blockyard.errors.ETagInvalidError`. An empty ETag counts as no ETag.
- ``concurrency="first-write"`` without an ETag is an atomic insert-if-absent (an expired item counts
  as absent); its conflict is :class:`~blockyard.errors.ETagMismatchError`. With an ETag, both
  concurrency modes check the ETag.
- TTL (``ttl=`` seconds, or request metadata ``ttlInSeconds``) is written atomically with the value;
  ``ttl <= 0`` or none means no expiry, and a write without TTL removes an earlier one. With
  :attr:`StateFeature.TTL_EXPIRE_TIME`, ``get`` returns ``metadata["ttlExpireTime"]`` (RFC 3339 UTC).
- :attr:`StateFeature.TRANSACTIONAL` means atomic (all or nothing, every ETag checked first) and
  ordered.
- Bulk operations apply every valid item and raise :class:`~blockyard.errors.BulkError` naming each
  failed key; ``bulk_get`` returns one item per requested key, in order.
- Using an undeclared feature raises :class:`~blockyard.errors.NotSupportedError`.
- Every store takes Dapr's ``keyPrefix`` metadata (default ``appid``): keys are stored as
  ``<prefix>||<key>`` exactly as daprd stores them (:mod:`blockyard.keyprefix`), so a Dapr app and
  a Blockyard app with the same app id share their state. The prefix is applied here, before a
  plugin sees a key; keys handed back are the application's.

A plugin subclasses :class:`StateStore` (plus a mixin per optional operation) and implements
``_get``/``_set``/``_delete`` on already-validated, normalised requests.
"""

from __future__ import annotations

import abc
import asyncio
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, overload

from blockyard.component import Component, ComponentKind
from blockyard.errors import BlockyardError, InvalidRequestError
from blockyard.keyprefix import KeyPrefix, KeyPrefixMetadata, resolve_prefix, with_key_prefix
from blockyard.metadata import ComponentMetadata
from blockyard.query import Query, parse_query
from blockyard.state_types import (
    TTL_EXPIRE_TIME,
    Concurrency,
    Consistency,
    DeleteOp,
    DeleteRequest,
    KeysPage,
    QueryResult,
    SetOp,
    SetRequest,
    StateFeature,
    StateItem,
    compile_like,
    format_expire_time,
)
from blockyard.ttl import TTL_METADATA, parse_ttl, request_ttl
from blockyard.values import encode_value

__all__ = [
    "Concurrency",
    "Consistency",
    "DeleteOp",
    "DeleteRequest",
    "DeleteWithPrefixStateStore",
    "KeysLikeStateStore",
    "KeysPage",
    "QueryResult",
    "QueryableStateStore",
    "SetOp",
    "SetRequest",
    "StateFeature",
    "StateItem",
    "StateStore",
    "TransactionalStateStore",
    "TTL_EXPIRE_TIME",
    "TTL_METADATA",
    "compile_like",
    "format_expire_time",
    "parse_ttl",
]

_EMPTY: Mapping[str, str] = {}


def _option(enum_cls: type[enum.StrEnum], value: Any, what: str, component: str) -> Any:
    if value is None or value == "":
        return None
    try:
        return enum_cls(value)
    except ValueError:
        raise InvalidRequestError(
            f"unrecognized {what} model {value!r}; expected one of {', '.join(repr(e.value) for e in enum_cls)}",
            component=component,
        ) from None


class StateStore(Component, abc.ABC):
    """A key/value state store. See the module docstring for the guaranteed semantics."""

    kind: ClassVar[ComponentKind] = ComponentKind.STATE
    features: ClassVar[frozenset[StateFeature]] = frozenset()
    feature_mixins: ClassVar[Mapping[enum.StrEnum, str]] = {
        StateFeature.TRANSACTIONAL: "TransactionalStateStore",
        StateFeature.DELETE_WITH_PREFIX: "DeleteWithPrefixStateStore",
        StateFeature.KEYS_LIKE: "KeysLikeStateStore",
        StateFeature.QUERY_API: "QueryableStateStore",
    }

    Metadata: ClassVar[type[ComponentMetadata] | None] = KeyPrefixMetadata
    #: Default parallelism of the generic bulk operations (``None`` = unbounded).
    bulk_parallelism: ClassVar[int | None] = 64
    #: Default TTL applied when a write has none (a plugin sets it from its metadata).
    default_ttl: int | None = None
    _keys: KeyPrefix = KeyPrefix("", "")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give every store's metadata model the ``keyPrefix`` field (one definition for all)."""
        super().__init_subclass__(**kwargs)
        model = cls.__dict__.get("Metadata")
        if model is not None:
            cls.Metadata = with_key_prefix(model)

    async def init(self) -> None:
        """Resolve ``keyPrefix`` (with :attr:`app_id`), then connect (see :meth:`Component.init`)."""
        strategy = getattr(self.meta, "key_prefix", "appid")
        self._keys = KeyPrefix(resolve_prefix(strategy, name=self.name, app_id=self.app_id), self.name)
        await super().init()

    @property
    def key_prefix(self) -> str:
        """What is put before every key on the backend (``""`` for none), ``||`` included."""
        return self._keys.prefix

    # -- public API --------------------------------------------------------------------------

    async def get(
        self,
        key: str,
        *,
        consistency: Consistency | str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> StateItem:
        """Read ``key``; a missing key gives ``StateItem(key, value=None)``.

        :raises InvalidRequestError: empty key or unknown consistency.
        """
        self._check_ready("get")
        self._check_key(key)
        stored = self._keys.store(key)
        cons = _option(Consistency, consistency, "consistency", self.name)
        item: StateItem = await self._call_hook("get", key, self._get(stored, cons, metadata or _EMPTY))
        item.key = key
        return item

    async def set(
        self,
        key: str,
        value: Any,
        *,
        etag: str | None = None,
        ttl: int | None = None,
        concurrency: Concurrency | str | None = None,
        consistency: Consistency | str | None = None,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> str | None:
        """Write ``value`` (bytes kept, anything else JSON-encoded); return the new ETag.

        :raises ETagMismatchError: wrong ETag, absent key with an ETag, or first-write conflict.
        :raises ETagInvalidError: malformed ETag.
        :raises InvalidRequestError: empty key, bad TTL or option, unserialisable value.
        :raises NotSupportedError: ETag, TTL or first-write on a store that lacks it.
        """
        self._check_ready("set")
        op = self._set_op(key, value, etag, ttl, concurrency, consistency, metadata, content_type)
        return await self._call_hook("set", key, self._set(op))

    async def delete(
        self,
        key: str,
        *,
        etag: str | None = None,
        concurrency: Concurrency | str | None = None,
        consistency: Consistency | str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Delete ``key``; deleting a missing key without an ETag succeeds.

        :raises ETagMismatchError: the ETag does not match or the key is absent.
        :raises ETagInvalidError: malformed ETag.
        """
        self._check_ready("delete")
        op = self._delete_op(key, etag, concurrency, consistency, metadata)
        await self._call_hook("delete", key, self._delete(op))

    async def bulk_get(
        self,
        keys: Sequence[str],
        *,
        consistency: Consistency | str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> list[StateItem]:
        """Read many keys: one item per requested key, in request order.

        A missing key gives an item with ``value=None``; a key that could not be read gives an
        item whose ``error`` is set. Never raises for a single key.
        """
        self._check_ready("bulk_get")
        for key in keys:
            self._check_key(key)
        stored = [self._keys.store(k) for k in keys]
        cons = _option(Consistency, consistency, "consistency", self.name)
        items: list[StateItem] = await self._call_hook(
            "bulk_get", None, self._bulk_get(stored, cons, metadata or _EMPTY), count=len(stored)
        )
        if self._keys.prefix:
            for item in items:
                item.key = self._keys.app(item.key)
        return items

    async def bulk_set(self, requests: Iterable[SetRequest]) -> None:
        """Write many items; every valid item is written even if others fail.

        :raises BulkError: naming each failed key with its cause (e.g. an ``ETagMismatchError``).
        """
        self._check_ready("bulk_set")
        await self._run_bulk(
            "bulk_set", [(str(r.key), r) for r in requests], self._request_op, self._app_errors(self._bulk_set)
        )

    async def bulk_delete(self, requests: Iterable[DeleteRequest]) -> None:
        """Delete many keys; every valid delete is applied even if others fail.

        :raises BulkError: naming each failed key with its cause.
        """
        self._check_ready("bulk_delete")
        await self._run_bulk(
            "bulk_delete", [(str(r.key), r) for r in requests], self._request_op, self._app_errors(self._bulk_delete)
        )

    # Optional operations: the matching mixin overrides these; here they are "not supported".

    async def transact(
        self, operations: Sequence[SetRequest | DeleteRequest], *, metadata: Mapping[str, str] | None = None
    ) -> None:
        """Apply operations atomically and in order (needs :attr:`StateFeature.TRANSACTIONAL`)."""
        raise self._unsupported(StateFeature.TRANSACTIONAL, "transact")

    async def delete_with_prefix(self, prefix: str) -> int:
        """Delete keys under ``prefix`` (needs :attr:`StateFeature.DELETE_WITH_PREFIX`)."""
        raise self._unsupported(StateFeature.DELETE_WITH_PREFIX, "delete_with_prefix")

    async def keys_like(
        self, pattern: str, *, page_size: int | None = None, continuation_token: str | None = None
    ) -> KeysPage:
        """List keys matching an SQL LIKE pattern (needs :attr:`StateFeature.KEYS_LIKE`)."""
        raise self._unsupported(StateFeature.KEYS_LIKE, "keys_like")

    async def query(
        self, query: Query | Mapping[str, Any] | str | bytes, *, metadata: Mapping[str, str] | None = None
    ) -> QueryResult:
        """Query JSON values (needs :attr:`StateFeature.QUERY_API`)."""
        raise self._unsupported(StateFeature.QUERY_API, "query")

    # -- plugin hooks ------------------------------------------------------------------------

    @abc.abstractmethod
    async def _get(self, key: str, consistency: Consistency | None, metadata: Mapping[str, str]) -> StateItem:
        """Return the item, or ``StateItem(key)`` when absent or expired."""

    @abc.abstractmethod
    async def _set(self, op: SetOp) -> str | None:
        """Write atomically (ETag check, first-write and TTL in one step); return the new ETag."""

    @abc.abstractmethod
    async def _delete(self, op: DeleteOp) -> None:
        """Delete atomically with the ETag check; a missing key without ETag is not an error."""

    async def _bulk_get(
        self, keys: list[str], consistency: Consistency | None, metadata: Mapping[str, str]
    ) -> list[StateItem]:
        """Default: ``_get`` per key, concurrently; per-key errors go into ``StateItem.error``."""

        async def one(key: str) -> StateItem:
            try:
                return await self._get(key, consistency, metadata)
            except Exception as exc:
                return StateItem(key, error=self._wrap(exc, "bulk_get", key))

        return await self._gather([one(k) for k in keys])

    async def _bulk_set(self, ops: list[SetOp]) -> dict[str, BlockyardError]:
        """Default: ``_set`` per item, concurrently; return the per-key errors."""
        return await self._apply_each(ops, self._set, "bulk_set")

    async def _bulk_delete(self, ops: list[DeleteOp]) -> dict[str, BlockyardError]:
        """Default: ``_delete`` per item, concurrently; return the per-key errors."""
        return await self._apply_each(ops, self._delete, "bulk_delete")

    # -- validation and helpers --------------------------------------------------------------

    def _check_key(self, key: Any) -> None:
        if not isinstance(key, str) or not key:
            raise InvalidRequestError(f"key must be a non-empty string, got {key!r}", component=self.name)

    def _app_errors(self, apply: Any) -> Any:
        """``apply`` with the keys of the errors it returns mapped back to the application's keys."""
        if not self._keys.prefix:
            return apply

        async def run(ops: list[Any]) -> dict[str, BlockyardError]:
            errors: dict[str, BlockyardError] = await apply(ops)
            return {self._keys.app(k): e for k, e in errors.items()}

        return run

    def _check_feature(self, feature: StateFeature, what: str, key: str | None) -> None:
        if feature not in self.features:
            raise self._unsupported(feature, what, key=key)

    def _set_op(
        self,
        key: str,
        value: Any,
        etag: str | None,
        ttl: int | None,
        concurrency: Any,
        consistency: Any,
        metadata: Mapping[str, str] | None,
        content_type: str | None,
    ) -> SetOp:
        self._check_key(key)
        md = metadata or _EMPTY
        etag = self._etag(etag, key)
        conc = _option(Concurrency, concurrency, "concurrency", self.name)
        first_write = conc is Concurrency.FIRST_WRITE and etag is None
        if first_write:
            self._check_feature(StateFeature.FIRST_WRITE, "first-write concurrency", key)
        given, seconds = request_ttl(ttl, md, component=self.name, key=key)
        if given:
            self._check_feature(StateFeature.TTL, "a TTL", key)
        else:
            seconds = self.default_ttl
        return SetOp(
            self._keys.store(key),
            encode_value(value, key=key, component=self.name),
            etag,
            first_write,
            seconds,
            _option(Consistency, consistency, "consistency", self.name),
            md,
            content_type,
        )

    def _etag(self, etag: Any, key: str) -> str | None:
        """``None`` for no (or an empty) ETag, else the ETag, checked to be a string the store supports."""
        if etag is None or etag == "":
            return None
        if not isinstance(etag, str):
            raise InvalidRequestError("etag must be a string", component=self.name, key=key)
        self._check_feature(StateFeature.ETAG, "an ETag", key)
        return etag

    @overload
    def _request_op(self, r: SetRequest) -> SetOp: ...
    @overload
    def _request_op(self, r: DeleteRequest) -> DeleteOp: ...

    def _request_op(self, r: SetRequest | DeleteRequest) -> SetOp | DeleteOp:
        """The validated op of a request of ``bulk_set``, ``bulk_delete`` or ``transact``."""
        if isinstance(r, SetRequest):
            return self._set_op(r.key, r.value, r.etag, r.ttl, r.concurrency, r.consistency, r.metadata, r.content_type)
        return self._delete_op(r.key, r.etag, r.concurrency, r.consistency, r.metadata)

    def _delete_op(
        self, key: str, etag: str | None, concurrency: Any, consistency: Any, metadata: Mapping[str, str] | None
    ) -> DeleteOp:
        self._check_key(key)
        etag = self._etag(etag, key)
        _option(Concurrency, concurrency, "concurrency", self.name)
        return DeleteOp(
            self._keys.store(key), etag, _option(Consistency, consistency, "consistency", self.name), metadata or _EMPTY
        )

    async def _gather(self, coros: list[Any]) -> list[Any]:
        limit = self.bulk_parallelism
        if limit is None or len(coros) <= limit:
            return list(await asyncio.gather(*coros))
        sem = asyncio.Semaphore(limit)

        async def bounded(c: Any) -> Any:
            async with sem:
                return await c

        return list(await asyncio.gather(*(bounded(c) for c in coros)))

    async def _apply_each(self, ops: list[Any], fn: Any, operation: str) -> dict[str, BlockyardError]:
        async def one(op: Any) -> tuple[str, BlockyardError | None]:
            try:
                await fn(op)
            except Exception as exc:
                return op.key, self._wrap(exc, operation, op.key)
            return op.key, None

        return {k: e for k, e in await self._gather([one(op) for op in ops]) if e is not None}


class TransactionalStateStore(StateStore, abc.ABC):
    """Mixin for :attr:`StateFeature.TRANSACTIONAL`: atomic, ordered multi-key writes."""

    #: Largest number of operations in one transaction (``None`` = no limit).
    max_transaction_size: ClassVar[int | None] = None

    async def transact(
        self, operations: Sequence[SetRequest | DeleteRequest], *, metadata: Mapping[str, str] | None = None
    ) -> None:
        """Apply ``operations`` in order, all or nothing: every ETag is checked before any write.

        :raises ETagMismatchError: if any ETag does not match (nothing is applied).
        :raises InvalidRequestError: if any operation is invalid (nothing is applied).
        """
        self._check_ready("transact")
        if StateFeature.TRANSACTIONAL not in self.features:
            raise self._unsupported(StateFeature.TRANSACTIONAL, "transact")
        limit = self.max_transaction_size
        if limit is not None and len(operations) > limit:
            raise InvalidRequestError(
                f"a transaction holds at most {limit} operations, got {len(operations)}", component=self.name
            )
        ops: list[SetOp | DeleteOp] = []
        for r in operations:
            if not isinstance(r, (SetRequest, DeleteRequest)):
                raise InvalidRequestError(
                    f"a transaction takes SetRequest or DeleteRequest, not {type(r).__name__}", component=self.name
                )
            ops.append(self._request_op(r))
        await self._call_hook("transact", None, self._transact(ops, metadata or _EMPTY), count=len(ops))

    @abc.abstractmethod
    async def _transact(self, ops: list[SetOp | DeleteOp], metadata: Mapping[str, str]) -> None:
        """Check every ETag / first-write condition, then apply all ops in order, atomically."""


class DeleteWithPrefixStateStore(StateStore, abc.ABC):
    """Mixin for :attr:`StateFeature.DELETE_WITH_PREFIX`."""

    async def delete_with_prefix(self, prefix: str) -> int:
        """Delete the keys directly under ``prefix`` and return how many.

        ``"||"`` is appended when missing; a key with a further ``||`` after the prefix is deeper
        and is not deleted.

        :raises InvalidRequestError: for an empty prefix or ``"||"``.
        """
        self._check_ready("delete_with_prefix")
        if StateFeature.DELETE_WITH_PREFIX not in self.features:
            raise self._unsupported(StateFeature.DELETE_WITH_PREFIX, "delete_with_prefix")
        if not isinstance(prefix, str) or prefix in ("", "||"):
            raise InvalidRequestError("a prefix is required for delete_with_prefix", component=self.name)
        if not prefix.endswith("||"):
            prefix += "||"
        stored = self._keys.prefix + prefix
        return await self._call_hook("delete_with_prefix", prefix, self._delete_with_prefix(stored))

    @abc.abstractmethod
    async def _delete_with_prefix(self, prefix: str) -> int:
        """``prefix`` ends with ``||``; delete keys ``prefix + rest`` where ``rest`` has no ``||``."""


class KeysLikeStateStore(StateStore, abc.ABC):
    """Mixin for :attr:`StateFeature.KEYS_LIKE`."""

    async def keys_like(
        self, pattern: str, *, page_size: int | None = None, continuation_token: str | None = None
    ) -> KeysPage:
        """List live keys matching ``pattern`` (SQL LIKE: ``%`` any run, ``_`` one character).

        Every other character is literal. Pages are stable across concurrent writes; the last page
        has ``continuation_token=None``.

        :raises InvalidRequestError: for an empty pattern or a page size below 1.
        """
        self._check_ready("keys_like")
        if StateFeature.KEYS_LIKE not in self.features:
            raise self._unsupported(StateFeature.KEYS_LIKE, "keys_like")
        if not isinstance(pattern, str) or not pattern:
            raise InvalidRequestError("keys like pattern cannot be empty", component=self.name)
        if page_size is not None and (not isinstance(page_size, int) or page_size < 1):
            raise InvalidRequestError("page_size must be a positive integer", component=self.name)
        keys = self._keys
        page: KeysPage = await self._call_hook(
            "keys_like", pattern, self._keys_like(keys.prefix + pattern, page_size, continuation_token)
        )
        if keys.prefix:  # a prefix's own "%" or "_" are wildcards: keep only keys under it
            page.keys = [keys.app(k) for k in page.keys if k.startswith(keys.prefix)]
        return page

    @abc.abstractmethod
    async def _keys_like(self, pattern: str, page_size: int | None, continuation_token: str | None) -> KeysPage:
        """Return one page of matching live keys."""


class QueryableStateStore(StateStore, abc.ABC):
    """Mixin for :attr:`StateFeature.QUERY_API`; the language and its semantics: :mod:`blockyard.query`."""

    async def query(
        self, query: Query | Mapping[str, Any] | str | bytes, *, metadata: Mapping[str, str] | None = None
    ) -> QueryResult:
        """Run a Dapr state query (``filter``/``sort``/``page``) over the JSON values.

        :raises InvalidRequestError: a malformed query or page token (naming the part).
        """
        self._check_ready("query")
        if StateFeature.QUERY_API not in self.features:
            raise self._unsupported(StateFeature.QUERY_API, "query")
        try:
            parsed = parse_query(query)
        except InvalidRequestError as exc:
            raise exc.fill(self.name, "query", None)
        result: QueryResult = await self._call_hook("query", None, self._query(parsed, metadata or _EMPTY))
        if self._keys.prefix:
            for item in result.results:
                item.key = self._keys.app(item.key)
        return result

    @abc.abstractmethod
    async def _query(self, query: Query, metadata: Mapping[str, str]) -> QueryResult:
        """Return the page of live JSON items ``query`` selects, as :meth:`Query.page` orders and cuts it."""

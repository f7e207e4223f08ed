"""``state.in-memory``: a state store in the process's memory.

Everything lives in a dict owned by the component: nothing is shared between two instances and
nothing survives :meth:`close`. It implements the whole state contract and is the reference the
other stores are compared with:

- ETags are fresh UUIDs; every write changes the ETag.
- ``concurrency="first-write"`` without an ETag inserts only if the key is absent or expired.
- TTLs (``ttl=`` or ``ttlInSeconds``) are kept with the value; :meth:`get` returns
  ``metadata["ttlExpireTime"]`` (RFC 3339 UTC). Expired items read as absent at once and are
  removed lazily and by a background sweep every ``cleanupInterval`` (default 1s).
- ``transact`` checks every operation against the state left by the ones before it, then applies
  them all in order, or none.
- ``delete_with_prefix("a")`` deletes ``a||x`` but not ``a||b||x``.
- ``keys_like`` lists live keys matching an SQL LIKE pattern (``%``, ``_``; everything else literal;
  case-sensitive), in key order, paged with continuation tokens.
- ``query`` is the reference of the query API (:mod:`blockyard.query`): it decodes every live
  JSON value and evaluates the filter, sort and page in Python (cost: every item, every call).

Every operation is a run of plain dict operations without an ``await`` in between, so it is atomic
with respect to all the other tasks of the event loop. Use the store from one event loop.

Example::

    import asyncio
    from blockyard_local.state_memory import InMemoryStateStore

    async def main() -> None:
        async with InMemoryStateStore(name="cache") as store:
            etag = await store.set("order-1", {"qty": 3}, ttl=60)
            item = await store.get("order-1")
            assert item.json() == {"qty": 3} and item.etag == etag
            print(item.metadata["ttlExpireTime"])
            await store.set("order-1", {"qty": 4}, etag=etag)
            found = await store.query({"filter": {"GT": {"qty": 3}}, "sort": [{"key": "qty"}]})
            print([i.key for i in found.results])

    asyncio.run(main())

Component YAML::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: cache}
    spec:
      type: state.in-memory
      version: v1
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from blockyard.errors import BlockyardError, ETagMismatchError
from blockyard.metadata import ComponentMetadata, Duration, meta
from blockyard.query import MISSING, Query, decode_document
from blockyard.state import (
    TTL_EXPIRE_TIME,
    Consistency,
    DeleteOp,
    DeleteWithPrefixStateStore,
    KeysLikeStateStore,
    KeysPage,
    QueryableStateStore,
    QueryResult,
    SetOp,
    StateFeature,
    StateItem,
    TransactionalStateStore,
    compile_like,
    format_expire_time,
)
from blockyard_local._keys import decode_token, encode_token, is_direct_child

__all__ = ["InMemoryStateMetadata", "InMemoryStateStore"]


class InMemoryStateMetadata(ComponentMetadata):
    """Metadata of ``state.in-memory`` (Dapr defines none; these are Blockyard's)."""

    cleanup_interval: Duration = meta(
        timedelta(seconds=1),
        description="How often expired items are swept from memory; 0 disables the sweep (they still read as absent).",
        example="10s",
    )


@dataclass(slots=True)
class _Entry:
    value: bytes
    etag: str
    expires: float | None
    content_type: str | None


_ABSENT = None


class InMemoryStateStore(TransactionalStateStore, DeleteWithPrefixStateStore, KeysLikeStateStore, QueryableStateStore):
    """The ``state.in-memory`` store. See the module docstring."""

    type: ClassVar[str] = "state.in-memory"
    Metadata = InMemoryStateMetadata
    features: ClassVar[frozenset[StateFeature]] = frozenset(
        {
            StateFeature.ETAG,
            StateFeature.TRANSACTIONAL,
            StateFeature.TTL,
            StateFeature.TTL_EXPIRE_TIME,
            StateFeature.FIRST_WRITE,
            StateFeature.DELETE_WITH_PREFIX,
            StateFeature.KEYS_LIKE,
            StateFeature.QUERY_API,
        }
    )
    bulk_parallelism: ClassVar[int | None] = None

    _data: dict[str, _Entry]
    _sweeper: asyncio.Task[None] | None = None

    async def _init(self) -> None:
        self._data = {}
        interval = self.meta.cleanup_interval.total_seconds()
        if interval > 0:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(interval))

    async def _close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        self._data = {}

    async def _ping(self) -> None:
        return None

    # -- reads -------------------------------------------------------------------------------

    def _live(self, key: str, now: float) -> _Entry | None:
        entry = self._data.get(key)
        if entry is not None and entry.expires is not None and entry.expires <= now:
            del self._data[key]
            return None
        return entry

    def _item(self, key: str, entry: _Entry | None) -> StateItem:
        if entry is None:
            return StateItem(key)
        md = {TTL_EXPIRE_TIME: format_expire_time(entry.expires)} if entry.expires is not None else {}
        return StateItem(key, entry.value, entry.etag, md, entry.content_type)

    async def _get(self, key: str, consistency: Consistency | None, metadata: Mapping[str, str]) -> StateItem:
        return self._item(key, self._live(key, time.time()))

    async def _bulk_get(
        self, keys: list[str], consistency: Consistency | None, metadata: Mapping[str, str]
    ) -> list[StateItem]:
        now = time.time()
        return [self._item(k, self._live(k, now)) for k in keys]

    # -- writes ------------------------------------------------------------------------------

    @staticmethod
    def _check(op: SetOp | DeleteOp, current: _Entry | None) -> None:
        """Raise if ``op`` may not apply to ``current`` (the live entry or ``None``)."""
        if op.etag is not None:
            if current is None:
                raise ETagMismatchError("no item with this key (or it expired), so the ETag cannot match")
            if current.etag != op.etag:
                raise ETagMismatchError("the ETag does not match the stored one")
        elif isinstance(op, SetOp) and op.first_write and current is not None:
            raise ETagMismatchError("first-write: an item with this key already exists")

    @staticmethod
    def _entry(op: SetOp, now: float) -> _Entry:
        return _Entry(op.value, str(uuid.uuid4()), now + op.ttl if op.ttl else None, op.content_type)

    async def _set(self, op: SetOp) -> str | None:
        return self._set_now(op)

    async def _delete(self, op: DeleteOp) -> None:
        self._delete_now(op)

    def _set_now(self, op: SetOp) -> str:
        now = time.time()
        self._check(op, self._live(op.key, now))
        entry = self._entry(op, now)
        self._data[op.key] = entry
        return entry.etag

    def _delete_now(self, op: DeleteOp) -> None:
        self._check(op, self._live(op.key, time.time()))
        self._data.pop(op.key, None)

    async def _bulk_set(self, ops: list[SetOp]) -> dict[str, BlockyardError]:
        return self._each(ops, self._set_now, "bulk_set")

    async def _bulk_delete(self, ops: list[DeleteOp]) -> dict[str, BlockyardError]:
        return self._each(ops, self._delete_now, "bulk_delete")

    def _each(self, ops: list[Any], fn: Any, operation: str) -> dict[str, BlockyardError]:
        errors: dict[str, BlockyardError] = {}
        for op in ops:
            try:
                fn(op)
            except Exception as exc:
                errors[op.key] = self._wrap(exc, operation, op.key)
        return errors

    async def _transact(self, ops: list[SetOp | DeleteOp], metadata: Mapping[str, str]) -> None:
        now = time.time()
        staged: dict[str, _Entry | None] = {}
        for op in ops:
            current = staged[op.key] if op.key in staged else self._live(op.key, now)
            self._check(op, current)
            staged[op.key] = self._entry(op, now) if isinstance(op, SetOp) else _ABSENT
        for key, entry in staged.items():
            if entry is None:
                self._data.pop(key, None)
            else:
                self._data[key] = entry

    async def _delete_with_prefix(self, prefix: str) -> int:
        now = time.time()
        doomed = [k for k in self._data if is_direct_child(k, prefix)]
        count = 0
        for k in doomed:
            if self._live(k, now) is not None:
                count += 1
                del self._data[k]
        return count

    async def _keys_like(self, pattern: str, page_size: int | None, continuation_token: str | None) -> KeysPage:
        after = decode_token(continuation_token)
        rx = compile_like(pattern)
        now = time.time()
        keys = sorted(
            k
            for k, e in self._data.items()
            if (after is None or k > after) and (e.expires is None or e.expires > now) and rx.fullmatch(k)
        )
        if page_size is not None and len(keys) > page_size:
            page = keys[:page_size]
            return KeysPage(page, encode_token(page[-1]))
        return KeysPage(keys, None)

    async def _query(self, query: Query, metadata: Mapping[str, str]) -> QueryResult:
        now = time.time()
        rows = []
        for key in list(self._data):
            entry = self._live(key, now)
            doc = decode_document(entry.value) if entry is not None else MISSING
            if entry is not None and doc is not MISSING and query.matches(doc):
                rows.append((key, doc, self._item(key, entry)))
        results, token = query.page(rows)
        return QueryResult(results, token)

    # -- expiry ------------------------------------------------------------------------------

    def sweep_expired(self) -> int:
        """Remove every expired item now; return how many. The background sweep calls this."""
        now = time.time()
        expired = [k for k, e in self._data.items() if e.expires is not None and e.expires <= now]
        for k in expired:
            del self._data[k]
        return len(expired)

    async def _sweep_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            removed = self.sweep_expired()
            if removed:
                self.log.debug("component %r: swept %d expired item(s)", self.name, removed)

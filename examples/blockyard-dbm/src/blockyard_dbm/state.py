"""``state.dbm``: a state store in a file of the standard library's :mod:`dbm`.

An example of a Blockyard plugin kept in its own repository; it needs no server.

- Each record holds the value, its content type and its ETag. ETags are decimal write sequence
  numbers, unique across the file, so every write changes the ETag (even after a delete). An ETag
  that is not a decimal number raises :class:`~blockyard.errors.ETagInvalidError`; a well-formed one
  that does not match raises :class:`~blockyard.errors.ETagMismatchError`.
- ``concurrency="first-write"`` without an ETag inserts only if the key is absent.
- The file is used from a worker thread; one lock makes every check-and-write atomic with respect
  to the store's other operations. Use one instance per file.

Example::

    import asyncio
    from blockyard_dbm.state import DbmStateStore

    async def main() -> None:
        async with DbmStateStore({"path": "/tmp/orders"}, name="orders") as store:
            etag = await store.set("order-1", {"qty": 3})
            item = await store.get("order-1")
            assert item.json() == {"qty": 3} and item.etag == etag
            await store.set("order-1", {"qty": 4}, etag=etag)

    asyncio.run(main())

Component YAML::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: statestore}
    spec:
      type: state.dbm
      version: v1
      metadata:
        - {name: path, value: /var/lib/app/state}
"""

from __future__ import annotations

import asyncio
import dbm
import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from blockyard.errors import ETagInvalidError, ETagMismatchError
from blockyard.metadata import ComponentMetadata, meta
from blockyard.state import Consistency, DeleteOp, SetOp, StateFeature, StateItem, StateStore

__all__ = ["DbmStateMetadata", "DbmStateStore"]

T = TypeVar("T")
_SEQUENCE = b"s"
"""The record holding the last ETag handed out; item records are ``b"k" + key``."""


class DbmStateMetadata(ComponentMetadata):
    """Metadata of ``state.dbm``."""

    path: str = meta(description="The dbm file to use (created if missing; dbm may add an extension).")


def _record_key(key: str) -> bytes:
    return b"k" + key.encode("utf-8")


def _pack(value: bytes, etag: str, content_type: str | None) -> bytes:
    header = json.dumps({"etag": etag, "contentType": content_type}).encode("utf-8")
    return header + b"\n" + value


def _unpack(key: str, record: bytes) -> StateItem:
    header, _, value = record.partition(b"\n")
    fields = json.loads(header)
    return StateItem(key, value, fields["etag"], {}, fields["contentType"])


class DbmStateStore(StateStore):
    """The ``state.dbm`` store. See the module docstring."""

    type: ClassVar[str] = "state.dbm"
    Metadata = DbmStateMetadata
    features: ClassVar[frozenset[StateFeature]] = frozenset({StateFeature.ETAG, StateFeature.FIRST_WRITE})
    meta: DbmStateMetadata

    _db: Any = None
    _lock: asyncio.Lock

    async def _init(self) -> None:
        self._lock = asyncio.Lock()
        self._db = await asyncio.to_thread(dbm.open, self.meta.path, "c")

    async def _close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            async with self._lock:
                await asyncio.to_thread(db.close)

    async def _ping(self) -> None:
        await self._locked(lambda: self._db.get(_SEQUENCE))

    async def _locked(self, fn: Callable[[], T]) -> T:
        async with self._lock:
            return await asyncio.to_thread(fn)

    # -- hooks --------------------------------------------------------------------------------

    async def _get(self, key: str, consistency: Consistency | None, metadata: Mapping[str, str]) -> StateItem:
        record = await self._locked(lambda: self._db.get(_record_key(key)))
        return StateItem(key) if record is None else _unpack(key, record)

    async def _set(self, op: SetOp) -> str | None:
        return await self._locked(lambda: self._set_now(op))

    async def _delete(self, op: DeleteOp) -> None:
        await self._locked(lambda: self._delete_now(op))

    # -- on the worker thread, under the lock ------------------------------------------------------

    def _check(self, op: SetOp | DeleteOp) -> None:
        """Raise if ``op`` may not apply to the stored record."""
        record = self._db.get(_record_key(op.key))
        if op.etag is not None:
            if not op.etag.isdecimal():
                raise ETagInvalidError(f"ETag {op.etag!r} is not a decimal write number")
            if record is None:
                raise ETagMismatchError("no item with this key, so the ETag cannot match")
            if _unpack(op.key, record).etag != op.etag:
                raise ETagMismatchError("the ETag does not match the stored one")
        elif isinstance(op, SetOp) and op.first_write and record is not None:
            raise ETagMismatchError("first-write: an item with this key already exists")

    def _set_now(self, op: SetOp) -> str:
        self._check(op)
        etag = str(int(self._db.get(_SEQUENCE, b"0")) + 1)
        self._db[_SEQUENCE] = etag.encode("ascii")
        self._db[_record_key(op.key)] = _pack(op.value, etag, op.content_type)
        return etag

    def _delete_now(self, op: DeleteOp) -> None:
        self._check(op)
        if _record_key(op.key) in self._db:
            del self._db[_record_key(op.key)]

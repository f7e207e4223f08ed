"""``state.redis``: a state store on Redis, every conditional write atomic on the server.

Features: ETAG, FIRST_WRITE, TTL, TTL_EXPIRE_TIME, TRANSACTIONAL, KEYS_LIKE, DELETE_WITH_PREFIX (no QUERY_API).

- Each item is a hash ``{data, version[, ct][, exp]}`` (Dapr's ``{data, version}`` plus the content
  type and the expiry); the ETag is the integer ``version``. A non-integer ETag raises
  :class:`~blockyard.errors.ETagInvalidError`; a wrong one :class:`~blockyard.errors.ETagMismatchError`.
- Every write is one Lua script (``EVALSHA``): ETag check, first-write (insert if absent), the value
  and its TTL in one atomic step. A write without TTL removes an earlier TTL; ``ttlInSeconds`` in
  the metadata is the default TTL of writes that give none.
- ``transact`` is one script over all its keys: every ETag and first-write condition is checked
  first, then every operation is applied in order — all or nothing.
- ``bulk_get``/``bulk_set``/``bulk_delete`` are one script call each (per 1,000 keys), and report
  per-key ETag conflicts in :class:`~blockyard.errors.BulkError`.
- ``keys_like`` turns the SQL LIKE pattern into a SCAN ``MATCH`` glob (a superset), checks each key
  exactly, and pages by key order (the continuation token is the last key returned), so pages
  neither repeat nor skip a key that lives throughout; each page costs a full SCAN of the
  database. The store should own its database (``redisDB``): any hash key matching the pattern
  is listed.
- ``delete_with_prefix`` SCANs the keys under the prefix and UNLINKs those directly under it; an item
  written under the prefix while it runs may survive (the two steps are not atomic).
- A single server is strongly consistent: ``consistency="strong"`` needs nothing more.
- Wire format: Dapr's Redis state store's — the hash's ``data`` and ``version`` are read and
  written by daprd's built-in component as they are by this one, ETags included, and ``keyPrefix``
  (default ``appid``) lays keys out as ``<app id>||<key>`` (proven against daprd, both ways). The
  extra ``ct`` and ``exp`` fields are ignored by Dapr; the TTL is also the key's ``PEXPIRE``, which
  Dapr honours.

Example::

    import asyncio
    from blockyard_redis.state import RedisStateStore

    async def main() -> None:
        async with RedisStateStore({"redisHost": "localhost:6379"}, name="statestore") as store:
            etag = await store.set("order-1", {"qty": 1}, ttl=60)
            item = await store.get("order-1")
            print(item.json(), item.etag, item.metadata.get("ttlExpireTime"))
            await store.set("order-1", {"qty": 2}, etag=etag)      # ETagMismatchError if changed

    asyncio.run(main())
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, ClassVar

from blockyard.errors import BackendError, BlockyardError, ETagInvalidError, ETagMismatchError
from blockyard.metadata import meta
from blockyard.state import (
    TTL_EXPIRE_TIME,
    Consistency,
    DeleteOp,
    DeleteWithPrefixStateStore,
    KeysLikeStateStore,
    KeysPage,
    SetOp,
    StateFeature,
    StateItem,
    TransactionalStateStore,
    compile_like,
    format_expire_time,
)
from blockyard_redis import scripts
from blockyard_redis.connection import RedisClientMixin, RedisConnectionMetadata

__all__ = ["RedisStateMetadata", "RedisStateStore"]

_FIELDS = ("data", "version", "ct", "exp")
_CHUNK = 1000
_MISMATCH = "the ETag does not match the stored item (or the item does not exist)"
_EXISTS = "first-write: an item with this key already exists"


class RedisStateMetadata(RedisConnectionMetadata):
    """Metadata of ``state.redis``: the connection plus a default TTL."""

    unsupported: ClassVar[dict[str, str]] = {
        **RedisConnectionMetadata.unsupported,
        "queryIndexes": (
            "state.redis does not implement the query API (RediSearch / RedisJSON indexes); "
            "the stores that declare QUERY_API are state.in-memory, state.sqlite and state.azure.cosmosdb"
        ),
    }

    ttl_in_seconds: int | None = meta(
        None, description="default TTL of writes that give none (seconds; <= 0 means none)", example="3600"
    )


def _valid_etag(etag: str) -> bool:
    return etag.isdigit() and etag.isascii()


def _item(key: str, data: Any, version: Any, ct: Any, exp: Any) -> StateItem:
    if data is None:
        return StateItem(key)
    return StateItem(
        key,
        data,
        version.decode() if version is not None else None,
        {TTL_EXPIRE_TIME: format_expire_time(int(exp) / 1000)} if exp is not None else {},
        ct.decode() if ct else None,
    )


def like_to_glob(pattern: str) -> str:
    """A Redis glob matching (at least) every key the SQL LIKE ``pattern`` matches.

    ``%`` and ``_`` both become ``*`` (Redis' ``?`` matches one byte, not one character); glob
    metacharacters are escaped. Check the keys with :func:`blockyard.state.compile_like` afterwards.
    """
    out: list[str] = []
    for ch in pattern:
        if ch in "%_":
            if not out or out[-1] != "*":
                out.append("*")
        elif ch in "*?[]\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _glob_literal(text: str) -> str:
    """``text`` with Redis glob metacharacters escaped, so it matches only itself."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


class RedisStateStore(RedisClientMixin, TransactionalStateStore, KeysLikeStateStore, DeleteWithPrefixStateStore):
    """State store on one Redis node; see the module docstring for layout and guarantees."""

    type: ClassVar[str] = "state.redis"
    Metadata = RedisStateMetadata
    features: ClassVar[frozenset[StateFeature]] = frozenset(
        {
            StateFeature.ETAG,
            StateFeature.FIRST_WRITE,
            StateFeature.TTL,
            StateFeature.TTL_EXPIRE_TIME,
            StateFeature.TRANSACTIONAL,
            StateFeature.KEYS_LIKE,
            StateFeature.DELETE_WITH_PREFIX,
        }
    )

    def __init__(self, metadata: Any = None, *, name: str | None = None) -> None:
        super().__init__(metadata, name=name)
        ttl = self.meta.ttl_in_seconds
        self.default_ttl = ttl if ttl is not None and ttl > 0 else None

    async def _init(self) -> None:
        await super()._init()
        c = self._client
        self._set_script = c.register_script(scripts.SET)
        self._delete_script = c.register_script(scripts.DELETE)
        self._bulk_set_script = c.register_script(scripts.BULK_SET)
        self._bulk_get_script = c.register_script(scripts.BULK_GET)
        self._bulk_delete_script = c.register_script(scripts.BULK_DELETE)
        self._transact_script = c.register_script(scripts.TRANSACT)

    # -- single-key operations -----------------------------------------------------------------

    async def _get(self, key: str, consistency: Consistency | None, metadata: Mapping[str, str]) -> StateItem:
        data, version, ct, exp = await self._client.execute_command("HMGET", key, *_FIELDS)
        return _item(key, data, version, ct, exp)

    async def _set(self, op: SetOp) -> str | None:
        etag = op.etag
        if etag is not None and not _valid_etag(etag):
            raise ETagInvalidError(f"the ETag must be an integer, got {etag!r}")
        version = await self._set_script(
            keys=(op.key,),
            args=(
                etag or "",
                "1" if op.first_write else "0",
                op.ttl * 1000 if op.ttl else 0,
                op.value,
                op.content_type or "",
            ),
        )
        if version is None:
            raise ETagMismatchError(_EXISTS if op.first_write else _MISMATCH)
        return version.decode()  # type: ignore[no-any-return]

    async def _delete(self, op: DeleteOp) -> None:
        etag = op.etag
        if etag is None:
            await self._client.execute_command("DEL", op.key)
            return
        if not _valid_etag(etag):
            raise ETagInvalidError(f"the ETag must be an integer, got {etag!r}")
        if not await self._delete_script(keys=(op.key,), args=(etag,)):
            raise ETagMismatchError(_MISMATCH)

    # -- bulk: one script call per chunk of keys -----------------------------------------------

    async def _bulk_get(
        self, keys: list[str], consistency: Consistency | None, metadata: Mapping[str, str]
    ) -> list[StateItem]:
        items: list[StateItem] = []
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            flat = await self._bulk_get_script(keys=chunk)
            for i, key in enumerate(chunk):
                data, version, ct, exp = flat[4 * i : 4 * i + 4]
                if exp == b"!":
                    err = BackendError(ct.decode(errors="replace"), component=self.name, operation="bulk_get", key=key)
                    items.append(StateItem(key, error=err))
                else:
                    items.append(_item(key, data, version, ct, exp))
        return items

    async def _bulk_set(self, ops: list[SetOp]) -> dict[str, BlockyardError]:
        errors: dict[str, BlockyardError] = {}
        valid: list[SetOp] = []
        for op in ops:
            if op.etag is not None and not _valid_etag(op.etag):
                errors[op.key] = self._wrap(ETagInvalidError("the ETag must be an integer"), "bulk_set", op.key)
            else:
                valid.append(op)
        for start in range(0, len(valid), _CHUNK):
            chunk = valid[start : start + _CHUNK]
            args: list[Any] = []
            for op in chunk:
                args += (
                    op.etag or "",
                    "1" if op.first_write else "0",
                    op.ttl * 1000 if op.ttl else 0,
                    op.value,
                    op.content_type or "",
                )
            results = await self._bulk_set_script(keys=[op.key for op in chunk], args=args)
            for op, res in zip(chunk, results, strict=True):
                if res == b"":
                    err: BlockyardError = ETagMismatchError(_EXISTS if op.first_write else _MISMATCH)
                    errors[op.key] = err.fill(self.name, "bulk_set", op.key)
                elif res[:1] == b"!":
                    errors[op.key] = BackendError(
                        res[1:].decode(errors="replace"), component=self.name, operation="bulk_set", key=op.key
                    )
        return errors

    async def _bulk_delete(self, ops: list[DeleteOp]) -> dict[str, BlockyardError]:
        errors: dict[str, BlockyardError] = {}
        valid: list[DeleteOp] = []
        for op in ops:
            if op.etag is not None and not _valid_etag(op.etag):
                errors[op.key] = self._wrap(ETagInvalidError("the ETag must be an integer"), "bulk_delete", op.key)
            else:
                valid.append(op)
        for start in range(0, len(valid), _CHUNK):
            chunk = valid[start : start + _CHUNK]
            results = await self._bulk_delete_script(
                keys=[op.key for op in chunk], args=[op.etag or "" for op in chunk]
            )
            for op, res in zip(chunk, results, strict=True):
                if res == 0:
                    errors[op.key] = ETagMismatchError(_MISMATCH).fill(self.name, "bulk_delete", op.key)
                elif isinstance(res, bytes):
                    errors[op.key] = BackendError(
                        res[1:].decode(errors="replace"), component=self.name, operation="bulk_delete", key=op.key
                    )
        return errors

    # -- transactions --------------------------------------------------------------------------

    async def _transact(self, ops: list[SetOp | DeleteOp], metadata: Mapping[str, str]) -> None:
        if not ops:
            return
        args: list[Any] = []
        for op in ops:
            if op.etag is not None and not _valid_etag(op.etag):
                raise ETagInvalidError(f"the ETag must be an integer, got {op.etag!r}", key=op.key)
            if isinstance(op, SetOp):
                args += (
                    "s",
                    op.etag or "",
                    "1" if op.first_write else "0",
                    op.ttl * 1000 if op.ttl else 0,
                    op.value,
                    op.content_type or "",
                )
            else:
                args += ("d", op.etag or "", "0", 0, "", "")
        failed = await self._transact_script(keys=[op.key for op in ops], args=args)
        if failed:
            op = ops[failed - 1]
            first = isinstance(op, SetOp) and op.first_write
            raise ETagMismatchError(f"{_EXISTS if first else _MISMATCH}; nothing was applied", key=op.key)

    # -- keys like -------------------------------------------------------------------------------

    async def _delete_with_prefix(self, prefix: str) -> int:
        """SCAN the items under ``prefix`` and UNLINK those directly under it, 1,000 per call.

        Every item that exists for the whole call is deleted; one written under the prefix while the
        call runs may survive (the scan and the deletes are not one atomic step).
        """
        raw_prefix = prefix.encode("utf-8", errors="surrogateescape")
        doomed = [
            raw
            async for raw in self._client.scan_iter(match=_glob_literal(prefix) + "*", count=1000, _type="HASH")
            if b"||" not in raw[len(raw_prefix) :]
        ]
        deleted = 0
        for start in range(0, len(doomed), 1000):
            deleted += int(await self._client.unlink(*doomed[start : start + 1000]))
        return deleted

    async def _keys_like(self, pattern: str, page_size: int | None, continuation_token: str | None) -> KeysPage:
        after: str | None = None
        if continuation_token:
            try:
                after = base64.urlsafe_b64decode(continuation_token.encode()).decode()
            except ValueError:
                from blockyard.errors import InvalidRequestError

                raise InvalidRequestError("malformed continuation token") from None
        exact = compile_like(pattern)
        found: set[str] = set()
        async for raw in self._client.scan_iter(match=like_to_glob(pattern), count=1000, _type="HASH"):
            key = raw.decode("utf-8", errors="surrogateescape")
            if exact.fullmatch(key) and (after is None or key > after):
                found.add(key)
        keys = sorted(found)
        if page_size is None or len(keys) <= page_size:
            return KeysPage(keys, None)
        page = keys[:page_size]
        return KeysPage(page, base64.urlsafe_b64encode(page[-1].encode("utf-8", errors="surrogateescape")).decode())

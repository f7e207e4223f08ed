"""``state.sqlite`` (alias ``state.sqlite3``): a state store in an SQLite database file.

The data survives restarts and can be shared by several processes on one machine (SQLite's file
locking; WAL mode by default). The store implements the whole state contract, as
``state.in-memory`` does:

- ETags are fresh UUIDs; an ETag check and its write are one SQL statement.
- ``concurrency="first-write"`` without an ETag is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE
  <stored row expired>``: it writes only if the key is absent or expired, else
  :class:`~blockyard.errors.ETagMismatchError`.
- TTLs are written with the value (column ``expires_at``, Unix seconds); an expired row reads as
  absent at once and is deleted by a background sweep every ``cleanupInterval``. ``get`` returns
  ``metadata["ttlExpireTime"]``.
- ``transact`` is one SQLite transaction (``BEGIN IMMEDIATE``): operations apply in order, and the
  first failed check rolls everything back. ``bulk_set``/``bulk_delete`` are one transaction too,
  in which a failed ETag check skips only its own item.
- ``delete_with_prefix`` and ``keys_like`` behave as in ``state.in-memory`` (``keys_like`` uses a
  case-sensitive ``GLOB`` translated from the LIKE pattern, so only ``%`` and ``_`` are wildcards).
- ``query`` (:mod:`blockyard.query`) runs its filter in SQLite (JSON1: ``json_valid`` and nested
  ``json_each`` lookups, every value and member name a bound parameter) and sorts and pages the
  matching rows on the worker thread.
- Values are stored as UTF-8 ``TEXT`` when they are valid UTF-8 (readable with the ``sqlite3``
  shell), else as a ``BLOB``, with an ``is_binary`` flag: the bytes always round-trip exactly.
  Keys and values are always bound parameters.

All SQLite calls run on one worker thread per component that owns the connection, so the event
loop never blocks and the connection is never shared between threads.

Metadata:

==================  ==========  ===========================================================
``connectionString`` required   a file path, a ``file:`` URI or ``:memory:`` (alias ``url``)
``tableName``       ``state``   the table; created if missing; must be an SQL identifier
``busyTimeout``     ``2s``      how long to wait for another connection's lock
``timeout``         ``20s``     longest run of one operation (alias ``timeoutInSeconds``)
``disableWAL``      ``false``   keep SQLite's rollback journal instead of WAL
``cleanupInterval`` ``1h``      how often expired rows are deleted; ``0`` disables it
==================  ==========  ===========================================================

``cleanupInterval`` defaults to one hour, where Dapr's default (``0``) never deletes expired rows.

Example::

    import asyncio
    from blockyard_local.state_sqlite import SQLiteStateStore

    async def main() -> None:
        async with SQLiteStateStore({"connectionString": "/tmp/state.db"}, name="db") as store:
            await store.set("order-1", b"\\x00raw bytes", ttl=3600)
            print((await store.get("order-1")).value)
            await store.set("order-2", {"qty": 1}, concurrency="first-write")

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

import orjson
from pydantic import field_validator

from blockyard.errors import (
    BackendError,
    BackendUnavailableError,
    BlockyardError,
    ComponentConfigError,
    ETagMismatchError,
)
from blockyard.metadata import ComponentMetadata, Duration, SecretStr, meta
from blockyard.query import Query
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
    format_expire_time,
)
from blockyard_local._keys import decode_token, encode_token, glob_literal, like_to_glob
from blockyard_local._sqlite_query import filter_sql

__all__ = ["SQLiteStateMetadata", "SQLiteStateStore"]

T = TypeVar("T")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_IN_CHUNK = 500


class SQLiteStateMetadata(ComponentMetadata):
    """Metadata of ``state.sqlite``."""

    connection_string: SecretStr = meta(
        description="Database: a file path, a 'file:' URI or ':memory:'.",
        aliases=("url",),
        example="data.db",
    )
    table_name: str = meta("state", description="Table holding the state; created if missing.", example="state")
    busy_timeout: Duration = meta(
        timedelta(seconds=2), description="How long to wait when another connection holds the lock.", example="2s"
    )
    timeout: Duration = meta(
        timedelta(seconds=20),
        description="Longest run of one database operation.",
        aliases=("timeoutInSeconds",),
        example="30s",
    )
    disable_wal: bool = meta(
        False, description="Use SQLite's rollback journal instead of write-ahead logging.", alias="disableWAL"
    )
    cleanup_interval: Duration = meta(
        timedelta(hours=1),
        description="How often rows with an expired TTL are deleted; 0 disables the cleanup.",
        aliases=("cleanupIntervalInSeconds",),
        example="10m",
    )

    @field_validator("table_name")
    @classmethod
    def _check_table_name(cls, value: str) -> str:
        if not _IDENTIFIER.fullmatch(value) or value.lower().startswith("sqlite_"):
            raise ValueError(
                "expected an SQL identifier: a letter or '_' then letters, digits or '_' "
                "(at most 63 characters, not starting with 'sqlite_')"
            )
        return value


def _pack(value: bytes) -> tuple[str | bytes, int]:
    try:
        return value.decode(), 0
    except UnicodeDecodeError:
        return value, 1


def _unpack(value: str | bytes, is_binary: int) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


class SQLiteStateStore(TransactionalStateStore, DeleteWithPrefixStateStore, KeysLikeStateStore, QueryableStateStore):
    """The ``state.sqlite`` store. See the module docstring."""

    type: ClassVar[str] = "state.sqlite"
    Metadata = SQLiteStateMetadata
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

    _pool: ThreadPoolExecutor | None = None
    _conn: sqlite3.Connection | None = None
    _sweeper: asyncio.Task[None] | None = None

    def __init__(
        self, metadata: Mapping[str, Any] | ComponentMetadata | None = None, *, name: str | None = None
    ) -> None:
        super().__init__(metadata, name=name)
        t = f'"{self.meta.table_name}"'
        cols = "key, value, is_binary, etag, expires_at, content_type, updated_at"
        upsert = (
            f"INSERT INTO {t} ({cols}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
            "value = excluded.value, is_binary = excluded.is_binary, etag = excluded.etag, "
            "expires_at = excluded.expires_at, content_type = excluded.content_type, updated_at = excluded.updated_at"
        )
        live = "(expires_at IS NULL OR expires_at > ?)"
        self._sql = {
            "create": (
                f"CREATE TABLE IF NOT EXISTS {t} (key TEXT NOT NULL PRIMARY KEY, value BLOB NOT NULL, "
                "is_binary INTEGER NOT NULL, etag TEXT NOT NULL, expires_at REAL, content_type TEXT, "
                "updated_at REAL NOT NULL)"
            ),
            "index": (
                f'CREATE INDEX IF NOT EXISTS "{self.meta.table_name}_expires_at" ON {t} (expires_at) '
                "WHERE expires_at IS NOT NULL"
            ),
            "get": f"SELECT value, is_binary, etag, expires_at, content_type FROM {t} WHERE key = ? AND {live}",
            "bulk_get": f"SELECT key, value, is_binary, etag, expires_at, content_type FROM {t} WHERE key IN ({{}}) "
            f"AND {live}",
            "upsert": upsert,
            "insert_if_absent": f"{upsert} WHERE {t}.expires_at IS NOT NULL AND {t}.expires_at <= ?",
            "update_if_etag": (
                f"UPDATE {t} SET value = ?, is_binary = ?, etag = ?, expires_at = ?, content_type = ?, updated_at = ? "
                f"WHERE key = ? AND etag = ? AND {live}"
            ),
            "delete": f"DELETE FROM {t} WHERE key = ?",
            "delete_if_etag": f"DELETE FROM {t} WHERE key = ? AND etag = ? AND {live}",
            "count_children": f"SELECT count(*) FROM {t} WHERE key GLOB ? AND instr(substr(key, ?), '||') = 0 "
            f"AND {live}",
            "delete_children": f"DELETE FROM {t} WHERE key GLOB ? AND instr(substr(key, ?), '||') = 0",
            "keys": f"SELECT key FROM {t} WHERE key GLOB ? AND key > ? AND {live} ORDER BY key",
            "sweep": f"DELETE FROM {t} WHERE expires_at IS NOT NULL AND expires_at <= ?",
            "query": f"SELECT key, value, is_binary, etag, expires_at, content_type FROM {t} t WHERE {live} "
            "AND CASE WHEN t.is_binary <> 0 THEN 0 WHEN json_valid(t.value) THEN ({}) ELSE 0 END",
        }
        self._deadline = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    async def _init(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"blockyard-sqlite-{self.name}")
        try:
            await self._call(self._open)
        except BaseException:
            self._pool.shutdown(wait=False)
            self._pool = None
            raise
        interval = self.meta.cleanup_interval.total_seconds()
        if interval > 0:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(interval))

    def _open(self) -> None:
        target = self.meta.connection_string.get_secret_value()
        try:
            conn = sqlite3.connect(
                target,
                timeout=self.meta.busy_timeout.total_seconds(),
                isolation_level=None,
                uri=target.startswith("file:"),
                cached_statements=64,
            )
        except sqlite3.Error as exc:
            raise ComponentConfigError(
                f"field 'connectionString': cannot open the database ({type(exc).__name__}: {exc})",
                component=self.name,
                field="connectionString",
            ) from None
        try:
            in_memory = target == ":memory:" or "mode=memory" in target
            if not self.meta.disable_wal and not in_memory:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(self._sql["create"])
            conn.execute(self._sql["index"])
            conn.set_progress_handler(self._over_deadline, 1000)
        except BaseException as exc:
            conn.close()
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_NOTADB:
                raise ComponentConfigError(
                    "field 'connectionString': the file is not an SQLite database",
                    component=self.name,
                    field="connectionString",
                ) from None
            raise
        self._conn = conn

    async def _close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await self._call(self._close_connection)
            self._pool.shutdown(wait=False)
            self._pool = None

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _ping(self) -> None:
        await self._call(lambda: self._db.execute("SELECT 1").fetchone())

    def _translate_error(self, exc: BaseException) -> builtins.type[BlockyardError] | None:
        if isinstance(exc, sqlite3.OperationalError):
            text = str(exc).lower()
            if any(w in text for w in ("locked", "busy", "interrupted", "unable to open", "disk i/o")):
                return BackendUnavailableError
        if isinstance(exc, sqlite3.Error):
            return BackendError
        return None

    # -- the worker thread -------------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise BackendUnavailableError("the database connection is closed")
        return self._conn

    def _over_deadline(self) -> int:
        return 1 if time.monotonic() > self._deadline else 0

    def _timed(self, fn: Callable[..., T], *args: Any) -> T:
        self._deadline = time.monotonic() + self.meta.timeout.total_seconds()
        try:
            return fn(*args)
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise BackendUnavailableError(
                    f"the operation took longer than the configured timeout ({self.meta.timeout.total_seconds():g}s)"
                ) from exc
            raise

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._pool is None:
            raise BackendUnavailableError("the database worker is stopped")
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._timed, fn, *args)

    def _in_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            result = fn(db)
        except BaseException:
            self._deadline = float("inf")  # the rollback itself must not be interrupted
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    # -- reads -------------------------------------------------------------------------------

    @staticmethod
    def _item(key: str, row: Any) -> StateItem:
        if row is None:
            return StateItem(key)
        value, is_binary, etag, expires_at, content_type = row
        md = {TTL_EXPIRE_TIME: format_expire_time(expires_at)} if expires_at is not None else {}
        return StateItem(key, _unpack(value, is_binary), etag, md, content_type)

    def _get_now(self, key: str) -> StateItem:
        return self._item(key, self._db.execute(self._sql["get"], (key, time.time())).fetchone())

    async def _get(self, key: str, consistency: Consistency | None, metadata: Mapping[str, str]) -> StateItem:
        return await self._call(self._get_now, key)

    def _bulk_get_now(self, keys: list[str]) -> list[StateItem]:
        found: dict[str, Any] = {}
        now = time.time()
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), _IN_CHUNK):
            chunk = unique[i : i + _IN_CHUNK]
            sql = self._sql["bulk_get"].format(", ".join("?" * len(chunk)))
            for row in self._db.execute(sql, (*chunk, now)):
                found[row[0]] = row[1:]
        return [self._item(k, found.get(k)) for k in keys]

    async def _bulk_get(
        self, keys: list[str], consistency: Consistency | None, metadata: Mapping[str, str]
    ) -> list[StateItem]:
        return await self._call(self._bulk_get_now, keys)

    # -- writes ------------------------------------------------------------------------------

    def _apply(self, db: sqlite3.Connection, op: SetOp | DeleteOp, now: float) -> str | None:
        """Run one write as one statement; raise ETagMismatchError when its condition fails."""
        if isinstance(op, DeleteOp):
            if op.etag is None:
                db.execute(self._sql["delete"], (op.key,))
            elif db.execute(self._sql["delete_if_etag"], (op.key, op.etag, now)).rowcount == 0:
                raise ETagMismatchError("no item with this key and ETag (the ETag does not match, or no such item)")
            return None
        value, is_binary = _pack(op.value)
        etag = str(uuid.uuid4())
        expires = now + op.ttl if op.ttl else None
        if op.etag is not None:
            args = (value, is_binary, etag, expires, op.content_type, now, op.key, op.etag, now)
            if db.execute(self._sql["update_if_etag"], args).rowcount == 0:
                raise ETagMismatchError("no item with this key and ETag (the ETag does not match, or no such item)")
        elif op.first_write:
            args2 = (op.key, value, is_binary, etag, expires, op.content_type, now, now)
            if db.execute(self._sql["insert_if_absent"], args2).rowcount == 0:
                raise ETagMismatchError("first-write: an item with this key already exists")
        else:
            db.execute(self._sql["upsert"], (op.key, value, is_binary, etag, expires, op.content_type, now))
        return etag

    async def _set(self, op: SetOp) -> str | None:
        return await self._call(lambda: self._apply(self._db, op, time.time()))

    async def _delete(self, op: DeleteOp) -> None:
        await self._call(lambda: self._apply(self._db, op, time.time()))

    def _apply_all(self, db: sqlite3.Connection, ops: list[Any], operation: str) -> dict[str, BlockyardError]:
        errors: dict[str, BlockyardError] = {}
        now = time.time()
        for op in ops:
            try:
                self._apply(db, op, now)
            except ETagMismatchError as exc:
                errors[op.key] = exc.fill(self.name, operation, op.key)
        return errors

    async def _bulk_set(self, ops: list[SetOp]) -> dict[str, BlockyardError]:
        return await self._call(self._in_transaction, lambda db: self._apply_all(db, ops, "bulk_set"))

    async def _bulk_delete(self, ops: list[DeleteOp]) -> dict[str, BlockyardError]:
        return await self._call(self._in_transaction, lambda db: self._apply_all(db, ops, "bulk_delete"))

    async def _transact(self, ops: list[SetOp | DeleteOp], metadata: Mapping[str, str]) -> None:
        def run(db: sqlite3.Connection) -> None:
            now = time.time()
            for op in ops:
                try:
                    self._apply(db, op, now)
                except ETagMismatchError as exc:
                    raise exc.fill(self.name, "transact", op.key)

        await self._call(self._in_transaction, run)

    async def _delete_with_prefix(self, prefix: str) -> int:
        args = (glob_literal(prefix) + "*", len(prefix) + 1)

        def run(db: sqlite3.Connection) -> int:
            count: int = db.execute(self._sql["count_children"], (*args, time.time())).fetchone()[0]
            db.execute(self._sql["delete_children"], args)
            return count

        return await self._call(self._in_transaction, run)

    async def _keys_like(self, pattern: str, page_size: int | None, continuation_token: str | None) -> KeysPage:
        after = decode_token(continuation_token) or ""
        sql = self._sql["keys"] + (" LIMIT ?" if page_size is not None else "")
        args: tuple[Any, ...] = (like_to_glob(pattern), after, time.time())
        if page_size is not None:
            args += (page_size + 1,)
        rows = await self._call(lambda: self._db.execute(sql, args).fetchall())
        keys = [r[0] for r in rows]
        if page_size is not None and len(keys) > page_size:
            keys = keys[:page_size]
            return KeysPage(keys, encode_token(keys[-1]))
        return KeysPage(keys, None)

    def _query_now(self, query: Query) -> QueryResult:
        params: list[Any] = [time.time()]
        condition = filter_sql(query.filter, params) if query.filter is not None else "1"
        rows = self._db.execute(self._sql["query"].format(condition), params).fetchall()
        found = [(row[0], orjson.loads(row[1]), self._item(row[0], row[1:])) for row in rows]
        results, token = query.page(found)
        return QueryResult(results, token)

    async def _query(self, query: Query, metadata: Mapping[str, str]) -> QueryResult:
        return await self._call(self._query_now, query)

    # -- expiry ------------------------------------------------------------------------------

    async def sweep_expired(self) -> int:
        """Delete every expired row now; return how many. The background cleanup calls this."""
        self._check_ready("sweep_expired")
        return await self._call(lambda: self._db.execute(self._sql["sweep"], (time.time(),)).rowcount)

    async def _sweep_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                removed = await self.sweep_expired()
            except Exception as exc:
                self.log.warning("component %r: expired-row cleanup failed (%s)", self.name, type(exc).__name__)
                continue
            if removed:
                self.log.debug("component %r: deleted %d expired row(s)", self.name, removed)

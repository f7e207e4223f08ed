"""``state.cassandra``: a state store on Apache Cassandra (cassandra-driver), with TTLs and ETags.

Features: TTL and TTL_EXPIRE_TIME always; ETAG and FIRST_WRITE while ``lightweightTransactions`` is
on (the default). Not TRANSACTIONAL: Cassandra has no atomic writes across partitions (a logged
batch is eventually all applied, never isolated, and cannot be conditional over several keys), so
``transact`` raises :class:`~blockyard.errors.NotSupportedError`. No KEYS_LIKE, no QUERY_API.

Layout: one row per key in ``<keyspace>.<table>`` ``(key text PRIMARY KEY, value blob, etag uuid,
content_type text)`` — Dapr's ``(key, value)`` table plus two columns, added to an existing Dapr
table at init. The keyspace (``SimpleStrategy``, ``replicationFactor``) and the table are created
when missing; their names are validated identifiers, and every data statement is prepared once at
init and run with bind parameters only.

- Every write is one ``UPDATE ... USING TTL ?`` of all columns, so the TTL is written with the value
  and a write without TTL (``USING TTL 0``) removes an earlier one. An item exists while its
  ``value`` cell lives. ``get`` reads ``TTL(value)`` and returns ``metadata["ttlExpireTime"]``
  (now + remaining seconds, RFC 3339 UTC). ``ttlInSeconds`` in the component metadata is not
  Dapr's for this store; give TTLs per request.
- ETags are random UUIDs written with each value. A write with an ETag is ``UPDATE ... IF etag = ?``,
  a delete ``DELETE ... IF etag = ?``; first-write without ETag is ``UPDATE ... IF value = null``
  (an insert-if-absent that, unlike ``INSERT ... IF NOT EXISTS``, also treats an expired item as
  absent). A condition that does not hold raises :class:`~blockyard.errors.ETagMismatchError`; an
  ETag that is not a UUID raises :class:`~blockyard.errors.ETagInvalidError`.
- Consistency: ``consistency`` (default ``All``) applies to every statement; a request's
  ``consistency="strong"`` uses ``All`` for reads and ``Quorum`` for writes, ``"eventual"`` ``One``
  for both (Dapr writes eventual at ``Any``, which acknowledges a write no replica holds yet).
  Conditional writes run their Paxos round at ``serialConsistency`` (``Serial`` or ``LocalSerial``).

What lightweight transactions cost, and when to turn them off
--------------------------------------------------------------
A conditional write is a Paxos round: four round trips between the coordinator and a quorum of
replicas (prepare, read, propose, commit) instead of one; ``bench/cassandra_bench.py`` measures it
at 1.5 to 3 times the cost of a plain write on one local node, more across a real network. Contended
keys cost more: rivals retry their ballots until ``cas_contention_timeout`` and may fail with a
timeout whose outcome is unknown. Plain writes and deletes stay single round trips; with LWTs on
they carry server-side timestamps, so they order correctly against the Paxos writes on one
coordinator (mixing them from several coordinators remains unordered, as Cassandra documents: use
ETags on every write of a key that needs order).
A conditional write that times out raises :class:`~blockyard.errors.BackendUnavailableError` saying
its outcome is unknown: Paxos may still complete it, so read the key before writing again.
Turn LWTs off (``lightweightTransactions: "false"``) for write-heavy data where the last write may
simply win: caches, sessions, telemetry. The store then declares neither ETAG nor FIRST_WRITE, and
``set`` returns no ETag.

Example::

    import asyncio
    from blockyard_cassandra.state import CassandraStateStore

    async def main() -> None:
        md = {"hosts": "127.0.0.1", "port": "9042", "keyspace": "shop", "table": "orders", "consistency": "One"}
        async with CassandraStateStore(md, name="statestore") as store:
            etag = await store.set("order-1", {"qty": 1}, ttl=3600)
            item = await store.get("order-1")
            print(item.json(), item.etag == etag, item.metadata["ttlExpireTime"])
            await store.set("order-1", {"qty": 2}, etag=etag)  # ETagMismatchError if changed

    asyncio.run(main())

Component YAML::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: statestore}
    spec:
      type: state.cassandra
      version: v1
      metadata:
        - {name: hosts, value: "cassandra-0.example,cassandra-1.example"}
        - {name: port, value: "9042"}
        - {name: username, value: app}
        - {name: password, secretKeyRef: {name: cassandra, key: password}}
        - {name: keyspace, value: shop}
        - {name: table, value: orders}
        - {name: replicationFactor, value: "3"}
        - {name: consistency, value: LocalQuorum}
        - {name: serialConsistency, value: LocalSerial}
"""

from __future__ import annotations

import asyncio
import builtins
import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from blockyard.errors import BackendUnavailableError, BlockyardError, ETagInvalidError, ETagMismatchError
from blockyard.state import (
    TTL_EXPIRE_TIME,
    Consistency,
    DeleteOp,
    SetOp,
    StateFeature,
    StateItem,
    StateStore,
    format_expire_time,
)
from blockyard_cassandra.connection import CassandraMetadata, cassandra_error_class, execute

__all__ = ["CassandraStateStore"]

_MISMATCH = "the ETag does not match the stored item (or the item does not exist)"
_EXISTS = "first-write: an item with this key already exists"
_CAS_TIMEOUT = (
    "a lightweight transaction timed out (contention or a slow replica): its outcome is unknown and Cassandra "
    "may still apply it; read the key to learn which write won"
)
_LWT_FEATURES = frozenset({StateFeature.ETAG, StateFeature.FIRST_WRITE})


def _parse_etag(etag: str) -> uuid.UUID:
    try:
        return uuid.UUID(etag)
    except ValueError:
        raise ETagInvalidError(f"the ETag must be a UUID, got {etag!r}") from None


class CassandraStateStore(StateStore):
    """State store on a Cassandra keyspace and table; see the module docstring for guarantees."""

    type: ClassVar[str] = "state.cassandra"
    Metadata = CassandraMetadata
    features: ClassVar[frozenset[StateFeature]] = frozenset(
        {StateFeature.ETAG, StateFeature.FIRST_WRITE, StateFeature.TTL, StateFeature.TTL_EXPIRE_TIME}
    )

    def __init__(self, metadata: Any = None, *, name: str | None = None) -> None:
        super().__init__(metadata, name=name)
        self.meta: CassandraMetadata
        if not self.meta.lightweight_transactions:
            self._narrow_features(self.features - _LWT_FEATURES)
        self._cluster: Any = None
        self._session: Any = None
        self._stmts: dict[str, Any] = {}

    # -- lifecycle -----------------------------------------------------------------------------

    async def _init(self) -> None:
        md = self.meta
        self._cluster = md.cluster()
        try:
            async with asyncio.timeout(md.connect_timeout.total_seconds() + md.request_timeout.total_seconds()):
                self._session = await asyncio.to_thread(self._cluster.connect)
            if md.lightweight_transactions:
                # server-side timestamps order plain writes after the Paxos writes of one coordinator
                self._session.use_client_timestamp = False
            await self._ensure_schema()
            self._stmts = await asyncio.to_thread(self._prepare_all)
        except BaseException:
            await self._close()
            raise

    async def _close(self) -> None:
        cluster, self._cluster, self._session = self._cluster, None, None
        if cluster is not None:
            await asyncio.to_thread(cluster.shutdown)

    async def _ping(self) -> None:
        await self._run(self._stmts["ping"], ())

    def _translate_error(self, exc: BaseException) -> builtins.type[BlockyardError] | BlockyardError | None:
        from cassandra import WriteTimeout
        from cassandra.policies import WriteType

        if isinstance(exc, WriteTimeout) and getattr(exc, "write_type", None) == WriteType.CAS:
            return BackendUnavailableError(_CAS_TIMEOUT)
        return cassandra_error_class(exc)

    # -- schema --------------------------------------------------------------------------------

    @property
    def _qualified(self) -> str:
        return f"{self.meta.keyspace}.{self.meta.table}"  # validated identifiers (CassandraMetadata)

    async def _ensure_schema(self) -> None:
        md = self.meta
        replication = f"{{'class': 'SimpleStrategy', 'replication_factor': {int(md.replication_factor)}}}"
        await execute(self._session, f"CREATE KEYSPACE IF NOT EXISTS {md.keyspace} WITH replication = {replication}")
        await execute(
            self._session,
            f"CREATE TABLE IF NOT EXISTS {self._qualified} "
            "(key text PRIMARY KEY, value blob, etag uuid, content_type text)",
        )
        columns = await asyncio.to_thread(
            self._session.prepare,
            "SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?",
        )
        rows = await execute(self._session, columns.bind((md.keyspace, md.table)))
        present = {row[0] for row in rows}
        for column, cql_type in (("etag", "uuid"), ("content_type", "text")):
            if column not in present:  # a table written by Dapr's store: (key, value) only
                await execute(self._session, f"ALTER TABLE {self._qualified} ADD {column} {cql_type}")

    def _prepare_all(self) -> dict[str, Any]:
        t = self._qualified
        prepare = self._session.prepare
        write = f"UPDATE {t} USING TTL ? SET value = ?, etag = ?, content_type = ? WHERE key = ?"
        return {
            "ping": prepare("SELECT release_version FROM system.local"),
            "get": prepare(f"SELECT value, etag, content_type, TTL(value) FROM {t} WHERE key = ?"),
            "set": prepare(write),
            "set_if_etag": prepare(write + " IF etag = ?"),
            "set_if_absent": prepare(write + " IF value = null"),
            "delete": prepare(f"DELETE FROM {t} WHERE key = ?"),
            "delete_if_etag": prepare(f"DELETE FROM {t} WHERE key = ? IF etag = ?"),
        }

    # -- statements ----------------------------------------------------------------------------

    async def _run(self, prepared: Any, params: tuple[Any, ...], level: int | None = None) -> list[Any]:
        bound = prepared.bind(params)
        if level is not None:
            bound.consistency_level = level
        return await execute(self._session, bound)

    def _level(self, consistency: Consistency | None, *, write: bool) -> int | None:
        if consistency is None:
            return None
        from cassandra import ConsistencyLevel

        if consistency is Consistency.STRONG:
            return int(ConsistencyLevel.QUORUM if write else ConsistencyLevel.ALL)
        return int(ConsistencyLevel.ONE)

    @property
    def _etags(self) -> bool:
        return StateFeature.ETAG in self.features

    # -- operations ----------------------------------------------------------------------------

    async def _get(self, key: str, consistency: Consistency | None, metadata: Mapping[str, str]) -> StateItem:
        rows = await self._run(self._stmts["get"], (key,), self._level(consistency, write=False))
        if not rows or rows[0][0] is None:
            return StateItem(key)
        value, etag, content_type, ttl = rows[0]
        meta = {TTL_EXPIRE_TIME: format_expire_time(time.time() + ttl)} if ttl is not None else {}
        return StateItem(key, bytes(value), str(etag) if etag is not None and self._etags else None, meta, content_type)

    async def _set(self, op: SetOp) -> str | None:
        new = uuid.uuid4()
        values = (op.ttl or 0, op.value, new, op.content_type, op.key)
        level = self._level(op.consistency, write=True)
        if op.etag is not None:
            rows = await self._run(self._stmts["set_if_etag"], (*values, _parse_etag(op.etag)), level)
            if not rows[0][0]:
                raise ETagMismatchError(_MISMATCH)
        elif op.first_write:
            rows = await self._run(self._stmts["set_if_absent"], values, level)
            if not rows[0][0]:
                raise ETagMismatchError(_EXISTS)
        else:
            await self._run(self._stmts["set"], values, level)
        return str(new) if self._etags else None

    async def _delete(self, op: DeleteOp) -> None:
        level = self._level(op.consistency, write=True)
        if op.etag is None:
            await self._run(self._stmts["delete"], (op.key,), level)
            return
        rows = await self._run(self._stmts["delete_if_etag"], (op.key, _parse_etag(op.etag)), level)
        if not rows[0][0]:
            raise ETagMismatchError(_MISMATCH)

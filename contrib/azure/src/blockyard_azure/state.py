"""``state.azure.cosmosdb``: a state store in an Azure Cosmos DB (NoSQL) container, on ``azure.cosmos.aio``.

Features: ETAG, FIRST_WRITE, TTL, TTL_EXPIRE_TIME, TRANSACTIONAL, QUERY_API, PARTITION_KEY.

- One document per key, in Dapr's layout (:mod:`blockyard_azure.documents`): JSON values stay
  JSON (so they can be queried), other bytes are base64; every value reads back byte for byte.
- The partition key is the request metadata ``partitionKey``, else the key itself (Dapr's rule);
  the container's partition key path must be ``/partitionKey``.
- ETags are the documents' ``_etag``. A write or delete with an ETag is conditional
  (``If-Match``); a 412 or a missing item raises :class:`~blockyard.errors.ETagMismatchError`.
- ``concurrency="first-write"`` creates the document; a 409 is a mismatch, unless the existing
  item has expired (then it is replaced, conditionally on its ETag).
- TTL: the document carries ``ttl`` (the service deletes it when the container has TTL enabled,
  ``defaultTtl: -1``) and ``expiresAt``, so reads and queries hide an expired item at once.
- ``transact`` is one transactional batch: all operations in one partition (the transaction's
  ``partitionKey`` metadata, or the same partition key on every operation), at most 100; ETags are
  checked inside the batch. A delete of a missing key is made to succeed by upserting it first.
- ``query`` translates the filter into parameterised Cosmos DB SQL (:mod:`blockyard_azure.cosmos_query`;
  never a value or member name in the text), cross-partition unless ``partitionKey`` is given, and
  sorts and pages the matching documents client-side with keyset tokens (:mod:`blockyard.query`),
  so each page reads every match of the filter.
- Throttled requests (429) are retried by the SDK as the service asks (``x-ms-retry-after-ms``).

Example::

    import asyncio
    from blockyard_azure.state import CosmosDBStateStore

    async def main() -> None:
        meta = {"url": "https://localhost:8081/", "masterKey": "<key>", "database": "db", "collection": "items"}
        async with CosmosDBStateStore(meta, name="statestore") as store:
            etag = await store.set("order-1", {"status": "open", "total": 12})
            await store.set("order-1", {"status": "paid", "total": 12}, etag=etag)
            page = await store.query({"filter": {"EQ": {"status": "paid"}}, "page": {"limit": 10}})
            print([item.key for item in page.results], page.token)

    asyncio.run(main())

Component YAML::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: statestore}
    spec:
      type: state.azure.cosmosdb
      version: v1
      metadata:
        - {name: url, value: "https://myaccount.documents.azure.com:443/"}
        - {name: masterKey, secretKeyRef: {name: cosmos, key: masterKey}}
        - {name: database, value: orders}
        - {name: collection, value: items}
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

from blockyard.errors import ETagMismatchError, InvalidRequestError
from blockyard.metadata import meta
from blockyard.query import Query
from blockyard.state import (
    TTL_EXPIRE_TIME,
    Consistency,
    DeleteOp,
    QueryableStateStore,
    QueryResult,
    SetOp,
    StateFeature,
    StateItem,
    TransactionalStateStore,
    format_expire_time,
)
from blockyard_azure.connection import CosmosClientMixin, CosmosConnectionMetadata
from blockyard_azure.cosmos_query import QueryText, where_sql
from blockyard_azure.documents import document_fields, document_value, id_to_key, key_to_id

__all__ = ["CosmosDBStateMetadata", "CosmosDBStateStore"]

PARTITION_KEY = "partitionKey"
_MISMATCH = "the ETag does not match the stored item (or the item does not exist)"
_EXISTS = "first-write: an item with this key already exists"
_READ_BY_QUERY = "SELECT * FROM c WHERE c.id = @id AND c.partitionKey = @pk"
_JSON_VALUES = "c.isBinary = false"


class CosmosDBStateMetadata(CosmosConnectionMetadata):
    """Metadata of ``state.azure.cosmosdb``."""

    content_type: str = meta(
        "application/json",
        description="Content type recorded for JSON values written without one (Dapr's contentType).",
        aliases=("contenttype",),
        example="application/json",
    )


def _expired(doc: Mapping[str, Any], now: float) -> bool:
    expires = doc.get("expiresAt")
    return isinstance(expires, int | float) and expires <= now


def _item(key: str, doc: Mapping[str, Any]) -> StateItem:
    expires = doc.get("expiresAt")
    md = {TTL_EXPIRE_TIME: format_expire_time(expires)} if isinstance(expires, int | float) else {}
    content_type = doc.get("contentType")
    return StateItem(key, document_value(dict(doc)), doc.get("_etag"), md, content_type if content_type else None)


class CosmosDBStateStore(CosmosClientMixin, TransactionalStateStore, QueryableStateStore):
    """State store on one Cosmos DB container; see the module docstring."""

    type: ClassVar[str] = "state.azure.cosmosdb"
    Metadata = CosmosDBStateMetadata
    meta: CosmosDBStateMetadata
    features: ClassVar[frozenset[StateFeature]] = frozenset(
        {
            StateFeature.ETAG,
            StateFeature.FIRST_WRITE,
            StateFeature.TTL,
            StateFeature.TTL_EXPIRE_TIME,
            StateFeature.TRANSACTIONAL,
            StateFeature.QUERY_API,
            StateFeature.PARTITION_KEY,
        }
    )
    max_transaction_size: ClassVar[int | None] = 100

    async def _init(self) -> None:
        await self._open_container()

    async def _close(self) -> None:
        await self._close_client()

    async def _ping(self) -> None:
        await self.container.read()

    # -- documents -----------------------------------------------------------------------------

    @staticmethod
    def _partition(key: str, metadata: Mapping[str, str]) -> str:
        return metadata.get(PARTITION_KEY) or key

    def _document(self, op: SetOp, now: float) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": key_to_id(op.key), PARTITION_KEY: self._partition(op.key, op.metadata)}
        doc.update(document_fields(op.value))
        content_type = op.content_type or (None if doc["isBinary"] else self.meta.content_type)
        if content_type:
            doc["contentType"] = content_type
        if op.ttl:
            doc["ttl"] = op.ttl
            doc["expiresAt"] = now + op.ttl
        return doc

    async def _read(self, key: str, partition: str) -> dict[str, Any] | None:
        from azure.cosmos.exceptions import CosmosHttpResponseError, CosmosResourceNotFoundError

        doc_id = key_to_id(key)
        try:
            doc: dict[str, Any] = await self.container.read_item(doc_id, partition_key=partition)
        except CosmosResourceNotFoundError:
            return None
        except CosmosHttpResponseError as exc:
            if exc.status_code != 500:
                raise
            # Emulators (cosmosdb-server) fail a point read of a missing document with a 500; a
            # single-partition query answers the same question on every implementation.
            params = [{"name": "@id", "value": doc_id}, {"name": "@pk", "value": partition}]
            found = [
                d async for d in self.container.query_items(_READ_BY_QUERY, parameters=params, partition_key=partition)
            ]
            return found[0] if found else None
        return doc

    # -- operations ----------------------------------------------------------------------------

    async def _get(self, key: str, consistency: Consistency | None, metadata: Mapping[str, str]) -> StateItem:
        doc = await self._read(key, self._partition(key, metadata))
        if doc is None or _expired(doc, time.time()):
            return StateItem(key)
        return _item(key, doc)

    async def _set(self, op: SetOp) -> str | None:
        from azure.core import MatchConditions
        from azure.cosmos.exceptions import CosmosResourceExistsError, CosmosResourceNotFoundError

        now = time.time()
        body = self._document(op, now)
        container = self.container
        if op.etag is not None:
            try:
                doc = await container.replace_item(
                    body["id"], body, etag=op.etag, match_condition=MatchConditions.IfNotModified
                )
            except CosmosResourceNotFoundError:
                raise ETagMismatchError(_MISMATCH) from None
        elif op.first_write:
            try:
                doc = await container.create_item(body)
            except CosmosResourceExistsError:
                current = await self._read(op.key, body[PARTITION_KEY])
                if current is None or not _expired(current, now):
                    raise ETagMismatchError(_EXISTS) from None
                doc = await container.replace_item(
                    body["id"], body, etag=current["_etag"], match_condition=MatchConditions.IfNotModified
                )
        else:
            doc = await container.upsert_item(body)
        etag: str | None = doc.get("_etag")
        return etag

    async def _delete(self, op: DeleteOp) -> None:
        from azure.core import MatchConditions
        from azure.cosmos.exceptions import CosmosResourceNotFoundError

        partition = self._partition(op.key, op.metadata)
        try:
            if op.etag is None:
                await self.container.delete_item(key_to_id(op.key), partition_key=partition)
            else:
                await self.container.delete_item(
                    key_to_id(op.key),
                    partition_key=partition,
                    etag=op.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except CosmosResourceNotFoundError:
            if op.etag is not None:
                raise ETagMismatchError(_MISMATCH) from None

    async def _transact(self, ops: list[SetOp | DeleteOp], metadata: Mapping[str, str]) -> None:
        if not ops:
            return
        given = metadata.get(PARTITION_KEY)
        partitions = {given} if given else {self._partition(op.key, op.metadata) for op in ops}
        if len(partitions) != 1:
            raise InvalidRequestError(
                "a Cosmos DB transaction stays in one partition: give the transaction metadata 'partitionKey' "
                f"(its operations fall in {len(partitions)} partitions)"
            )
        (partition,) = partitions
        now = time.time()
        batch: list[tuple[Any, ...]] = []
        for op in ops:
            doc_id = key_to_id(op.key)
            if isinstance(op, DeleteOp):
                if op.etag is None:  # a missing key must not fail the batch: make it exist first
                    batch.append(("upsert", ({"id": doc_id, PARTITION_KEY: partition, "value": None},)))
                    batch.append(("delete", (doc_id,)))
                else:
                    batch.append(("delete", (doc_id,), {"if_match_etag": op.etag}))
                continue
            body = self._document(op, now)
            body[PARTITION_KEY] = partition
            if op.etag is not None:
                batch.append(("replace", (doc_id, body), {"if_match_etag": op.etag}))
            elif op.first_write:
                batch.append(("create", (body,)))
            else:
                batch.append(("upsert", (body,)))
        from azure.cosmos.exceptions import CosmosBatchOperationError

        try:
            await self.container.execute_item_batch(batch, partition_key=partition)
        except CosmosBatchOperationError as exc:
            if exc.status_code in (404, 409, 412):
                raise ETagMismatchError(
                    f"the transaction failed its condition at batch operation {exc.error_index} ({_MISMATCH}); "
                    "nothing was applied"
                ) from None
            raise

    async def _query(self, query: Query, metadata: Mapping[str, str]) -> QueryResult:
        text = QueryText()
        sql = f"SELECT * FROM c WHERE {where_sql(_JSON_VALUES, query.filter, text)}"
        partition = metadata.get(PARTITION_KEY)
        kwargs: dict[str, Any] = {"parameters": text.parameters}
        if partition:
            kwargs["partition_key"] = partition
        now = time.time()
        rows = []
        async for doc in self.container.query_items(sql, **kwargs):
            if not _expired(doc, now):
                key = id_to_key(doc["id"])
                rows.append((key, doc.get("value"), _item(key, doc)))
        results, token = query.page(rows)
        return QueryResult(results, token)

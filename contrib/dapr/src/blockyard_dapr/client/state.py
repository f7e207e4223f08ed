"""``state.dapr-socket``: a state store reached over Dapr's pluggable-component protocol."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from google.protobuf import any_pb2

from blockyard.errors import BackendError
from blockyard.query import And, Comparison, Filter, In, Query, SortOrder
from blockyard.state import (
    TTL_METADATA,
    Consistency,
    DeleteOp,
    QueryableStateStore,
    QueryResult,
    SetOp,
    StateFeature,
    StateItem,
    TransactionalStateStore,
)
from blockyard_dapr.client._channel import SocketConnection, SocketMetadata
from blockyard_dapr.protocol import common_pb2, state_pb2, state_pb2_grpc

__all__ = ["SocketStateStore"]

_Options = state_pb2.StateOptions
_CONSISTENCY = {Consistency.EVENTUAL: _Options.CONSISTENCY_EVENTUAL, Consistency.STRONG: _Options.CONSISTENCY_STRONG}


def _set_request(op: SetOp) -> state_pb2.SetRequest:
    metadata = dict(op.metadata)
    metadata.pop(TTL_METADATA, None)
    if op.ttl is not None:
        metadata[TTL_METADATA] = str(op.ttl)
    options = _Options(
        concurrency=_Options.CONCURRENCY_FIRST_WRITE if op.first_write else _Options.CONCURRENCY_LAST_WRITE,
        consistency=_CONSISTENCY.get(op.consistency, _Options.CONSISTENCY_UNSPECIFIED)
        if op.consistency
        else _Options.CONSISTENCY_UNSPECIFIED,
    )
    return state_pb2.SetRequest(
        key=op.key,
        value=op.value,
        etag=state_pb2.Etag(value=op.etag) if op.etag else None,
        metadata=metadata,
        options=options,
        content_type=op.content_type or "",
    )


def _delete_request(op: DeleteOp) -> state_pb2.DeleteRequest:
    return state_pb2.DeleteRequest(
        key=op.key, etag=state_pb2.Etag(value=op.etag) if op.etag else None, metadata=dict(op.metadata)
    )


def _item(
    key: str, data: bytes, etag: state_pb2.Etag | None, metadata: Mapping[str, str], content_type: str
) -> StateItem:
    found = bool(data) or (etag is not None and bool(etag.value))
    return StateItem(
        key,
        value=bytes(data) if found else None,
        etag=etag.value if found and etag is not None and etag.value else None,
        metadata=dict(metadata),
        content_type=content_type or None,
    )


def _filter_document(node: Filter) -> dict[str, Any]:
    """A parsed filter as Dapr's query JSON, the form daprd sends (``{"EQ": {"a.b": 1}}``, ...)."""
    if isinstance(node, Comparison):
        return {node.op.value: {node.field: node.value}}
    if isinstance(node, In):
        return {"IN": {node.field: list(node.values)}}
    return {"AND" if isinstance(node, And) else "OR": [_filter_document(f) for f in node.filters]}


class SocketStateStore(TransactionalStateStore, QueryableStateStore):
    """A pluggable state store; its features are the ones the server reports after ``Init``."""

    type: ClassVar[str] = "state.dapr-socket"
    Metadata = SocketMetadata
    features: ClassVar[frozenset[StateFeature]] = frozenset(
        {
            StateFeature.ETAG,
            StateFeature.TRANSACTIONAL,
            StateFeature.TTL,
            StateFeature.QUERY_API,
            StateFeature.FIRST_WRITE,
            StateFeature.TTL_EXPIRE_TIME,
        }
    )
    meta: SocketMetadata

    async def _init(self) -> None:
        self._conn = SocketConnection(self.meta.socket_path, self.name)
        self._stub = state_pb2_grpc.StateStoreStub(self._conn.channel)
        self._tx = state_pb2_grpc.TransactionalStateStoreStub(self._conn.channel)
        self._query_stub = state_pb2_grpc.QueriableStateStoreStub(self._conn.channel)
        init = state_pb2.InitRequest(metadata=common_pb2.MetadataRequest(properties=self.meta.init_properties()))
        await self._conn.call(self._stub.Init, init)
        reply = await self._conn.call(self._stub.Features, common_pb2.FeaturesRequest())
        self._narrow_features(StateFeature(f) for f in reply.features if f in StateFeature.__members__)

    async def _close(self) -> None:
        if hasattr(self, "_conn"):
            await self._conn.close()

    async def _ping(self) -> None:
        await self._conn.call(self._stub.Ping, common_pb2.PingRequest())

    async def _get(self, key: str, consistency: Consistency | None, metadata: Mapping[str, str]) -> StateItem:
        request = state_pb2.GetRequest(
            key=key, metadata=dict(metadata), consistency=_CONSISTENCY.get(consistency) if consistency else None
        )
        reply = await self._conn.call(self._stub.Get, request)
        etag = reply.etag if reply.HasField("etag") else None
        return _item(key, reply.data, etag, reply.metadata, reply.content_type)

    async def _set(self, op: SetOp) -> str | None:
        await self._conn.call(self._stub.Set, _set_request(op))
        return None  # the protocol does not return the new ETag

    async def _delete(self, op: DeleteOp) -> None:
        await self._conn.call(self._stub.Delete, _delete_request(op))

    async def _bulk_get(
        self, keys: list[str], consistency: Consistency | None, metadata: Mapping[str, str]
    ) -> list[StateItem]:
        request = state_pb2.BulkGetRequest(
            items=[state_pb2.GetRequest(key=key, metadata=dict(metadata)) for key in keys]
        )
        reply = await self._conn.call(self._stub.BulkGet, request)
        by_key = {item.key: item for item in reply.items}
        items = []
        for key in keys:
            got = by_key.get(key)
            if got is None:
                items.append(StateItem(key))
                continue
            item = _item(key, got.data, got.etag if got.HasField("etag") else None, got.metadata, got.content_type)
            if got.error:
                item.error = BackendError(got.error, component=self.name, operation="bulk_get", key=key)
            items.append(item)
        return items

    async def _transact(self, ops: list[SetOp | DeleteOp], metadata: Mapping[str, str]) -> None:
        operations = [
            state_pb2.TransactionalStateOperation(set=_set_request(op))
            if isinstance(op, SetOp)
            else state_pb2.TransactionalStateOperation(delete=_delete_request(op))
            for op in ops
        ]
        request = state_pb2.TransactionalStateRequest(operations=operations, metadata=dict(metadata))
        await self._conn.call(self._tx.Transact, request)

    async def _query(self, query: Query, metadata: Mapping[str, str]) -> QueryResult:
        proto = state_pb2.Query(
            sort=[
                state_pb2.Sorting(
                    key=k.field, order=state_pb2.Sorting.DESC if k.order is SortOrder.DESC else state_pb2.Sorting.ASC
                )
                for k in query.sort
            ],
            pagination=state_pb2.Pagination(limit=query.limit or 0, token=query.token or ""),
        )
        if query.filter is not None:
            ((operator, operand),) = _filter_document(query.filter).items()
            proto.filter[operator].CopyFrom(any_pb2.Any(value=json.dumps(operand).encode()))
        reply = await self._conn.call(
            self._query_stub.Query, state_pb2.QueryRequest(query=proto, metadata=dict(metadata))
        )
        return QueryResult(
            [_item(i.key, i.data, i.etag if i.HasField("etag") else None, {}, i.content_type) for i in reply.items],
            token=reply.token or None,
        )

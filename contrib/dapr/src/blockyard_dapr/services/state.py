"""``StateStore``, ``TransactionalStateStore``, ``QueriableStateStore`` and ``TransactionalStoreMultiMaxSize``
servicers over a Blockyard :class:`~blockyard.state.StateStore`.

Requests are translated one to one; validation, ETag and TTL rules are the store's own (daprd's
``ttlInSeconds`` metadata is read by the store's base class). An absent key reads as an empty
response, as daprd expects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeAlias

import grpc
from google.protobuf import any_pb2, json_format

from blockyard.errors import InvalidRequestError
from blockyard.state import (
    Concurrency,
    Consistency,
    DeleteRequest,
    SetRequest,
    StateItem,
    StateStore,
    TransactionalStateStore,
)
from blockyard_dapr.protocol import state_pb2
from blockyard_dapr.services._common import ReportsFeatures, ServesInstances, reports_errors

__all__ = [
    "MultiMaxSizeServicer",
    "QueriableStateStoreServicer",
    "StateStoreServicer",
    "TransactionalStateStoreServicer",
    "query_document",
]

Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]
_Options = state_pb2.StateOptions
_CONSISTENCY = {_Options.CONSISTENCY_EVENTUAL: Consistency.EVENTUAL, _Options.CONSISTENCY_STRONG: Consistency.STRONG}
_CONCURRENCY = {
    _Options.CONCURRENCY_FIRST_WRITE: Concurrency.FIRST_WRITE,
    _Options.CONCURRENCY_LAST_WRITE: Concurrency.LAST_WRITE,
}


def _etag(message: Any) -> str | None:
    return message.etag.value if message.HasField("etag") and message.etag.value else None


def _set_request(req: state_pb2.SetRequest) -> SetRequest:
    options = req.options if req.HasField("options") else None
    return SetRequest(
        key=req.key,
        value=bytes(req.value),
        etag=_etag(req),
        concurrency=_CONCURRENCY.get(options.concurrency) if options else None,
        consistency=_CONSISTENCY.get(options.consistency) if options else None,
        metadata=dict(req.metadata),
        content_type=req.content_type or None,
    )


def _delete_request(req: state_pb2.DeleteRequest) -> DeleteRequest:
    options = req.options if req.HasField("options") else None
    return DeleteRequest(
        key=req.key,
        etag=_etag(req),
        concurrency=_CONCURRENCY.get(options.concurrency) if options else None,
        consistency=_CONSISTENCY.get(options.consistency) if options else None,
        metadata=dict(req.metadata),
    )


def _etag_message(item: StateItem) -> state_pb2.Etag | None:
    return state_pb2.Etag(value=item.etag) if item.etag else None


class StateStoreServicer(ReportsFeatures[StateStore]):
    """The basic state operations of every served store."""

    init_response = state_pb2.InitResponse

    @reports_errors
    async def Init(self, request: state_pb2.InitRequest, context: Ctx) -> state_pb2.InitResponse:
        """Create the instance without ``keyPrefix``: daprd puts the prefix on keys itself."""
        properties = {k: v for k, v in request.metadata.properties.items() if k.lower() != "keyprefix"}
        await self.instances.init(context, properties)
        return state_pb2.InitResponse()

    @reports_errors
    async def Get(self, request: state_pb2.GetRequest, context: Ctx) -> state_pb2.GetResponse:
        item = await self.instances.get(context).get(
            request.key, consistency=_CONSISTENCY.get(request.consistency), metadata=dict(request.metadata)
        )
        if not item.found:
            return state_pb2.GetResponse()
        return state_pb2.GetResponse(
            data=item.value, etag=_etag_message(item), metadata=item.metadata, content_type=item.content_type or ""
        )

    @reports_errors
    async def Set(self, request: state_pb2.SetRequest, context: Ctx) -> state_pb2.SetResponse:
        r = _set_request(request)
        await self.instances.get(context).set(
            r.key,
            r.value,
            etag=r.etag,
            concurrency=r.concurrency,
            consistency=r.consistency,
            metadata=r.metadata,
            content_type=r.content_type,
        )
        return state_pb2.SetResponse()

    @reports_errors
    async def Delete(self, request: state_pb2.DeleteRequest, context: Ctx) -> state_pb2.DeleteResponse:
        r = _delete_request(request)
        await self.instances.get(context).delete(
            r.key, etag=r.etag, concurrency=r.concurrency, consistency=r.consistency, metadata=r.metadata
        )
        return state_pb2.DeleteResponse()

    @reports_errors
    async def BulkGet(self, request: state_pb2.BulkGetRequest, context: Ctx) -> state_pb2.BulkGetResponse:
        store = self.instances.get(context)
        metadata: dict[str, str] = {}
        for item in request.items:
            metadata.update(item.metadata)
        items = await store.bulk_get([item.key for item in request.items], metadata=metadata)
        return state_pb2.BulkGetResponse(
            items=[
                state_pb2.BulkStateItem(
                    key=item.key,
                    data=item.value or b"",
                    etag=_etag_message(item),
                    error=str(item.error) if item.error else "",
                    metadata=item.metadata,
                    content_type=item.content_type or "",
                )
                for item in items
            ]
        )

    @reports_errors
    async def BulkSet(self, request: state_pb2.BulkSetRequest, context: Ctx) -> state_pb2.BulkSetResponse:
        await self.instances.get(context).bulk_set([_set_request(r) for r in request.items])
        return state_pb2.BulkSetResponse()

    @reports_errors
    async def BulkDelete(self, request: state_pb2.BulkDeleteRequest, context: Ctx) -> state_pb2.BulkDeleteResponse:
        await self.instances.get(context).bulk_delete([_delete_request(r) for r in request.items])
        return state_pb2.BulkDeleteResponse()


class TransactionalStateStoreServicer(ServesInstances[StateStore]):
    """``Transact``: the operations in order, all or none."""

    @reports_errors
    async def Transact(
        self, request: state_pb2.TransactionalStateRequest, context: Ctx
    ) -> state_pb2.TransactionalStateResponse:
        operations: list[SetRequest | DeleteRequest] = []
        for op in request.operations:
            kind = op.WhichOneof("request")
            if kind == "set":
                operations.append(_set_request(op.set))
            elif kind == "delete":
                operations.append(_delete_request(op.delete))
            else:
                raise InvalidRequestError(f"transaction operation {len(operations)} is neither set nor delete")
        await self.instances.get(context).transact(operations, metadata=dict(request.metadata))
        return state_pb2.TransactionalStateResponse()


class MultiMaxSizeServicer(ServesInstances[StateStore]):
    """``MultiMaxSize``: the store's transaction size limit (-1: none)."""

    @reports_errors
    async def MultiMaxSize(
        self, request: state_pb2.MultiMaxSizeRequest, context: Ctx
    ) -> state_pb2.MultiMaxSizeResponse:
        store = self.instances.get(context)
        limit = store.max_transaction_size if isinstance(store, TransactionalStateStore) else None
        return state_pb2.MultiMaxSizeResponse(max_size=-1 if limit is None else limit)


def _filter_value(value: any_pb2.Any) -> Any:
    """A filter operand: daprd sends JSON text in the ``Any``'s value bytes."""
    raw = bytes(value.value)
    try:
        return json.loads(raw)
    except ValueError:
        return json_format.MessageToDict(value)


def query_document(query: state_pb2.Query) -> Mapping[str, Any]:
    """The Dapr query document (``filter``, ``sort``, ``page``) a ``QueryRequest`` carries."""
    document: dict[str, Any] = {}
    if query.filter:
        document["filter"] = {name: _filter_value(value) for name, value in query.filter.items()}
    if query.sort:
        document["sort"] = [
            {"key": s.key, "order": "DESC" if s.order == state_pb2.Sorting.DESC else "ASC"} for s in query.sort
        ]
    if query.HasField("pagination"):
        page: dict[str, Any] = {}
        if query.pagination.limit:
            page["limit"] = query.pagination.limit
        if query.pagination.token:
            page["token"] = query.pagination.token
        if page:
            document["page"] = page
    return document


class QueriableStateStoreServicer(ServesInstances[StateStore]):
    """``Query`` in Dapr's query language (stores that declare ``QUERY_API``)."""

    @reports_errors
    async def Query(self, request: state_pb2.QueryRequest, context: Ctx) -> state_pb2.QueryResponse:
        result = await self.instances.get(context).query(query_document(request.query), metadata=dict(request.metadata))
        return state_pb2.QueryResponse(
            items=[
                state_pb2.QueryItem(
                    key=item.key,
                    data=item.value or b"",
                    etag=_etag_message(item),
                    error=str(item.error) if item.error else "",
                    content_type=item.content_type or "",
                )
                for item in result.results
            ],
            token=result.token or "",
        )

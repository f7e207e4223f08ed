"""``bindings.azure.cosmosdb``: an output binding that creates documents in a Cosmos DB container.

Operation ``create``: the data is one JSON object, written as a new document with
``azure.cosmos.aio``. It must carry ``id`` (a non-empty string) and the member named by the
``partitionKey`` metadata, whose value is the document's partition key (the container's partition
key path must be ``/<partitionKey>``). A document with the same id in that partition raises
:class:`~blockyard.errors.BackendError` (409, nothing is overwritten); data that is not such an
object raises :class:`~blockyard.errors.InvalidRequestError`. The response carries the new
document's ETag as ``metadata["etag"]``.

Example::

    import asyncio
    from blockyard_azure.binding import CosmosDBBinding

    async def main() -> None:
        meta = {"url": "https://localhost:8081/", "masterKey": "<key>", "database": "db",
                "collection": "orders", "partitionKey": "customer"}
        async with CosmosDBBinding(meta, name="orders") as binding:
            await binding.invoke("create", {"id": "o-1", "customer": "c-7", "total": 12})

    asyncio.run(main())

Component YAML::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: orders}
    spec:
      type: bindings.azure.cosmosdb
      version: v1
      metadata:
        - {name: url, value: "https://myaccount.documents.azure.com:443/"}
        - {name: masterKey, secretKeyRef: {name: cosmos, key: masterKey}}
        - {name: database, value: shop}
        - {name: collection, value: orders}
        - {name: partitionKey, value: customer}
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from blockyard.bindings import BindingResponse, InvokeRequest, OutputBinding
from blockyard.errors import BackendError, InvalidRequestError
from blockyard.metadata import meta
from blockyard_azure.connection import CosmosClientMixin, CosmosConnectionMetadata

__all__ = ["CosmosDBBinding", "CosmosDBBindingMetadata"]


class CosmosDBBindingMetadata(CosmosConnectionMetadata):
    """Metadata of ``bindings.azure.cosmosdb``."""

    partition_key: str = meta(
        description="The member of each document that holds its partition key value.", example="customer"
    )


class CosmosDBBinding(CosmosClientMixin, OutputBinding):
    """Creates documents; see the module docstring."""

    type: ClassVar[str] = "bindings.azure.cosmosdb"
    Metadata = CosmosDBBindingMetadata
    meta: CosmosDBBindingMetadata
    operations: ClassVar[frozenset[str]] = frozenset({"create"})

    async def _init(self) -> None:
        await self._open_container()

    async def _close(self) -> None:
        await self._close_client()

    async def _ping(self) -> None:
        await self.container.read()

    def _document(self, data: bytes | None) -> dict[str, Any]:
        try:
            doc = orjson.loads(data or b"")
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise InvalidRequestError("create: the data must be one JSON object (the document)")
        if not isinstance(doc.get("id"), str) or not doc["id"]:
            raise InvalidRequestError("create: the document needs an 'id' member holding a non-empty string")
        field = self.meta.partition_key
        if field not in doc:
            raise InvalidRequestError(f"create: the document has no member {field!r} (metadata 'partitionKey')")
        return doc

    async def _invoke(self, req: InvokeRequest) -> BindingResponse:
        from azure.cosmos.exceptions import CosmosResourceExistsError

        doc = self._document(req.data)
        try:
            created = await self.container.create_item(doc)
        except CosmosResourceExistsError:
            raise BackendError(f"create: a document with id {doc['id']!r} already exists in its partition") from None
        etag = created.get("_etag")
        return BindingResponse(metadata={"etag": etag} if isinstance(etag, str) else {})

"""bindings.azure.cosmosdb against the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from blockyard.errors import BackendError, InvalidRequestError, NotSupportedError
from blockyard_azure.binding import CosmosDBBinding


@pytest.fixture
async def binding(props: dict[str, str]) -> AsyncIterator[CosmosDBBinding]:
    async with CosmosDBBinding({**props, "partitionKey": "partitionKey"}, name="docs") as b:
        yield b


async def test_create_writes_the_document(binding: CosmosDBBinding, raw: Any, ns: str) -> None:
    response = await binding.invoke("create", {"id": ns, "partitionKey": ns, "total": 12})
    doc = await raw.read_item(ns, partition_key=ns)
    assert doc["total"] == 12
    assert response.metadata["etag"] == doc["_etag"]
    with pytest.raises(BackendError, match="already exists"):
        await binding.invoke("create", {"id": ns, "partitionKey": ns})
    await raw.delete_item(ns, partition_key=ns)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "one JSON object"),
        (b"not json", "one JSON object"),
        ({"partitionKey": "p"}, "'id'"),
        ({"id": "", "partitionKey": "p"}, "'id'"),
        ({"id": "x"}, "'partitionKey'"),
    ],
)
async def test_bad_documents_are_refused(binding: CosmosDBBinding, data: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        await binding.invoke("create", data)


async def test_only_create_is_declared(binding: CosmosDBBinding) -> None:
    with pytest.raises(NotSupportedError, match="create"):
        await binding.invoke("get")

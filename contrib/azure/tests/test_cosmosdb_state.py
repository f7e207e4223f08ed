"""state.azure.cosmosdb against the emulator: what the conformance suites cannot see."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from blockyard.errors import InvalidRequestError
from blockyard.state import DeleteRequest, SetRequest
from blockyard_azure.documents import id_to_key, key_to_id
from blockyard_azure.state import CosmosDBStateStore

INJECTIONS = [
    "x' OR '1'='1",
    '"] OR 1=1 --',
    "@evil",
    'c["id"]',
    "') OR true OR ('",
    '\\"; DROP',
    'value"]["isBinary',
]


async def test_query_is_parameterised_with_injection_strings_in_values_and_paths(
    store: CosmosDBStateStore, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Injection strings as member names and as values match only themselves, and never reach the SQL text.

    (A dot separates members in a field path, so the member names here have none.)"""
    texts: list[str] = []
    container = store.container
    original = container.query_items

    def recording(query: str, **kwargs: Any) -> Any:
        texts.append(query)
        return original(query, **kwargs)

    monkeypatch.setattr(container, "query_items", recording)
    for i, evil in enumerate(INJECTIONS):
        await store.set(f"{ns}-{i}", {"run": ns, evil: evil, "nested": {evil: i}})
    await store.set(f"{ns}-plain", {"run": ns, "other": 1})
    try:
        for i, evil in enumerate(INJECTIONS):
            for filter_ in ({"EQ": {evil: evil}}, {"EQ": {f"nested.{evil}": i}}, {"IN": {evil: [evil, "x"]}}):
                query = {"filter": {"AND": [{"EQ": {"run": ns}}, filter_]}}
                found = await store.query(query)
                assert [item.key for item in found.results] == [f"{ns}-{i}"], filter_
            assert (await store.query({"filter": {"AND": [{"EQ": {"run": ns}}, {"NEQ": {evil: "nothing"}}]}})).results
        assert texts
        for text in texts:
            for evil in [*INJECTIONS, ns]:
                assert evil not in text, f"a query string reached the SQL text: {text}"
    finally:
        await store.bulk_delete([DeleteRequest(f"{ns}-{i}") for i in range(len(INJECTIONS))])
        await store.delete(f"{ns}-plain")


@pytest.mark.parametrize(
    ("value", "binary", "raw_kept"),
    [
        pytest.param(b'{"a":1,"b":[true,null,"x"]}', False, False, id="canonical-json"),
        pytest.param(b'{"a": 1}', False, True, id="json-with-spaces"),
        pytest.param(b"1.0", False, True, id="integral-float"),
        pytest.param(b'{"1":2,"b":1}', False, True, id="digit-member-names"),
        pytest.param(b"9007199254740993", False, True, id="int-beyond-2-53"),
        pytest.param(b"\xff\x00binary", True, False, id="binary"),
        pytest.param(b"", True, False, id="empty"),
        pytest.param("ключ é".encode(), True, False, id="text-not-json"),
    ],
)
async def test_bytes_round_trip_exactly(
    store: CosmosDBStateStore, raw: Any, ns: str, value: bytes, binary: bool, raw_kept: bool
) -> None:
    """Every value reads back byte for byte; JSON stays queryable JSON in Dapr's layout."""
    key = f"{ns}-v"
    await store.set(key, value)
    try:
        assert (await store.get(key)).value == value
        doc = await raw.read_item(key, partition_key=key)
        assert doc["isBinary"] is binary
        assert ("rawValue" in doc) is raw_kept
        if binary:
            assert base64.b64decode(doc["value"]) == value
    finally:
        await store.delete(key)


async def test_document_layout_ttl_and_partition_key(store: CosmosDBStateStore, raw: Any, ns: str) -> None:
    """Dapr's document layout; ``ttl`` and ``expiresAt`` with a TTL; the partition key from metadata."""
    await store.set(f"{ns}-a", {"qty": 1}, ttl=60, content_type="application/json")
    doc = await raw.read_item(f"{ns}-a", partition_key=f"{ns}-a")
    assert doc["id"] == f"{ns}-a"
    assert doc["partitionKey"] == f"{ns}-a"
    assert doc["value"] == {"qty": 1}
    assert doc["isBinary"] is False
    assert doc["ttl"] == 60
    assert doc["expiresAt"] > 0
    assert doc["contentType"] == "application/json"
    item = await store.get(f"{ns}-a")
    assert item.etag == doc["_etag"]
    assert "ttlExpireTime" in item.metadata
    md = {"partitionKey": f"{ns}-p"}
    await store.set(f"{ns}-b", {"qty": 2}, metadata=md)
    assert (await store.get(f"{ns}-b", metadata=md)).content_type == "application/json"  # the contentType default
    assert (await raw.read_item(f"{ns}-b", partition_key=f"{ns}-p"))["partitionKey"] == f"{ns}-p"
    assert (await store.get(f"{ns}-b", metadata=md)).json() == {"qty": 2}
    assert (await store.query({"filter": {"EQ": {"qty": 2}}}, metadata=md)).results[0].key == f"{ns}-b"
    await store.delete(f"{ns}-a")
    await store.delete(f"{ns}-b", metadata=md)
    assert not (await store.get(f"{ns}-b", metadata=md)).found


def test_ids_escape_only_what_cosmos_forbids() -> None:
    """``/ \\ ? #`` and ``%`` are percent-encoded in ids; other keys are their own id."""
    assert key_to_id("order-1||ключ é") == "order-1||ключ é"
    assert key_to_id("a/b\\c?d#e%f") == "a%2Fb%5Cc%3Fd%23e%25f"
    for key in ["a/b\\c?d#e%f", "%2F", "plain", "%", "tab\tnew\nline\r", "trailing "]:
        assert id_to_key(key_to_id(key)) == key


async def test_transactions_stay_in_one_partition_of_at_most_100(store: CosmosDBStateStore, ns: str) -> None:
    """Operations over several partitions, or more than 100, are refused before anything is sent."""
    with pytest.raises(InvalidRequestError, match="one partition"):
        await store.transact([SetRequest(f"{ns}-1", 1), SetRequest(f"{ns}-2", 2)])
    with pytest.raises(InvalidRequestError, match="at most 100"):
        await store.transact([SetRequest(f"{ns}-{i}", i) for i in range(101)], metadata={"partitionKey": ns})
    assert not (await store.get(f"{ns}-1")).found


async def test_transaction_is_one_conditional_batch(
    store: CosmosDBStateStore, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch ``transact`` sends (the emulator cannot run batches, so the request is checked):
    conditions as ``if_match_etag``, first-write as ``create``, a plain delete made unconditional
    by an upsert before it; a failed condition is an ETag mismatch."""
    from azure.cosmos.exceptions import CosmosBatchOperationError

    from blockyard.errors import ETagMismatchError

    sent: list[tuple[list[Any], str]] = []

    async def execute_item_batch(batch: list[Any], partition_key: str) -> list[Any]:
        sent.append((batch, partition_key))
        return []

    monkeypatch.setattr(store.container, "execute_item_batch", execute_item_batch)
    md = {"partitionKey": ns}
    await store.transact(
        [
            SetRequest("a", {"v": 1}),
            SetRequest("b", {"v": 2}, etag='"e-b"'),
            SetRequest("c", {"v": 3}, concurrency="first-write"),
            DeleteRequest("d"),
            DeleteRequest("e", etag='"e-e"'),
        ],
        metadata=md,
    )
    ((batch, partition),) = sent
    assert partition == ns
    assert [op[0] for op in batch] == ["upsert", "replace", "create", "upsert", "delete", "delete"]
    assert batch[0][1][0]["partitionKey"] == ns
    assert batch[0][1][0]["value"] == {"v": 1}
    assert batch[1][1][0] == "b"
    assert batch[1][2] == {"if_match_etag": '"e-b"'}
    assert batch[4] == ("delete", ("d",))
    assert batch[5] == ("delete", ("e",), {"if_match_etag": '"e-e"'})

    async def failing(batch: list[Any], partition_key: str) -> list[Any]:
        # azure-cosmos leaves this constructor unannotated
        raise CosmosBatchOperationError(error_index=1, headers={}, status_code=412, message="precondition")  # type: ignore[no-untyped-call]

    monkeypatch.setattr(store.container, "execute_item_batch", failing)
    with pytest.raises(ETagMismatchError, match="operation 1"):
        await store.transact([SetRequest("a", 1), SetRequest("b", 2, etag='"x"')], metadata=md)

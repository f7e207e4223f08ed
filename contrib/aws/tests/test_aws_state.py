"""state.aws.dynamodb beyond the suite: layout, TTL hidden on read, transactions, features by config."""

from __future__ import annotations

import time

import pytest
from aws_servers import Aws

from blockyard.errors import ETagMismatchError, InvalidRequestError, NotSupportedError
from blockyard.state import DeleteRequest, SetRequest, StateFeature
from blockyard_aws.dynamodb import DynamoDBStateStore


async def test_item_layout_is_daprs(aws: Aws, table: str) -> None:
    async with DynamoDBStateStore(aws.metadata(table=table, ttlAttributeName="expiresAt"), name="s") as store:
        etag = await store.set("json", {"a": 1}, ttl=60)
        await store.set("bin", b"\xff\x00")
    raw = aws.client("dynamodb")
    item = raw.get_item(TableName=table, Key={"key": {"S": "json"}})["Item"]
    assert item["value"] == {"S": '{"a":1}'}
    assert item["etag"] == {"S": etag}
    assert int(item["expiresAt"]["N"]) >= time.time() + 58
    assert raw.get_item(TableName=table, Key={"key": {"S": "bin"}})["Item"]["value"] == {"B": b"\xff\x00"}


async def test_expired_items_are_hidden_although_the_backend_keeps_them(aws: Aws, table: str) -> None:
    raw = aws.client("dynamodb")
    past = str(int(time.time()) - 5)
    raw.put_item(
        TableName=table,
        Item={"key": {"S": "old"}, "value": {"S": '"v"'}, "etag": {"S": "e1"}, "expiresAt": {"N": past}},
    )
    async with DynamoDBStateStore(aws.metadata(table=table, ttlAttributeName="expiresAt"), name="s") as store:
        assert (await store.get("old")).value is None
        assert [i.value for i in await store.bulk_get(["old"])] == [None]
        with pytest.raises(ETagMismatchError):
            await store.set("old", "new", etag="e1")  # an expired item has no ETag to match
        await store.set("old", "new", concurrency="first-write")  # and counts as absent
        assert (await store.get("old")).json() == "new"
    assert "Item" in raw.get_item(TableName=table, Key={"key": {"S": "old"}}), "the item was overwritten, not hidden"


async def test_ttl_needs_ttl_attribute_name(aws: Aws, table: str) -> None:
    async with DynamoDBStateStore(aws.metadata(table=table), name="s") as store:
        assert StateFeature.TTL not in store.features
        with pytest.raises(NotSupportedError):
            await store.set("k", 1, ttl=10)


async def test_transaction_over_100_operations_is_refused(aws: Aws, table: str) -> None:
    async with DynamoDBStateStore(aws.metadata(table=table), name="s") as store:
        with pytest.raises(InvalidRequestError) as raised:
            await store.transact([SetRequest(f"k{i}", i) for i in range(101)])
        assert "at most 100" in str(raised.value)
        await store.transact([SetRequest(f"k{i}", i) for i in range(100)])
        assert (await store.get("k99")).json() == 99


async def test_transaction_with_repeated_keys_applies_in_order(aws: Aws, table: str) -> None:
    async with DynamoDBStateStore(aws.metadata(table=table), name="s") as store:
        etag = await store.set("a", "a0")
        await store.transact(
            [SetRequest("a", "a1", etag=etag), SetRequest("a", "a2"), DeleteRequest("b"), SetRequest("b", "b1")]
        )
        assert (await store.get("a")).json() == "a2"
        assert (await store.get("b")).json() == "b1"
        with pytest.raises(ETagMismatchError):
            await store.transact([SetRequest("c", "c1"), SetRequest("c", "c2", concurrency="first-write")])
        assert (await store.get("c")).value is None, "nothing of a refused transaction is applied"


async def test_bulk_over_batch_sizes(aws: Aws, table: str) -> None:
    async with DynamoDBStateStore(aws.metadata(table=table), name="s") as store:
        await store.bulk_set([SetRequest(f"k{i}", i) for i in range(130)])
        items = await store.bulk_get([f"k{i}" for i in range(130)] + ["missing", "k0"])
        assert [i.json() for i in items] == [*range(130), None, 0]
        await store.bulk_delete([DeleteRequest(f"k{i}") for i in range(130)])
        assert all(i.value is None for i in await store.bulk_get([f"k{i}" for i in range(130)]))

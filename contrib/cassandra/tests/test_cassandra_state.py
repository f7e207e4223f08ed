"""state.cassandra against the launcher's Cassandra: what the generic suite cannot see."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from cassandra_servers import KEYSPACE, Node, eventually

from blockyard.errors import ETagInvalidError, ETagMismatchError, NotSupportedError
from blockyard.state import TTL_EXPIRE_TIME, StateFeature
from blockyard_cassandra.state import CassandraStateStore

pytestmark = pytest.mark.slow


def _row(raw: Any, table: str, key: str) -> Any:
    query = raw.prepare(
        f"SELECT value, etag, content_type, TTL(value), TTL(etag) FROM {KEYSPACE}.{table} WHERE key = ?"
    )
    return raw.execute(query, (key,)).one()


async def test_keyspace_and_table_are_created(cassandra_node: Node, raw: Any) -> None:
    keyspace, table = f"ks_{uuid.uuid4().hex[:10]}", "Items"
    md = cassandra_node.metadata(keyspace=keyspace, table=table)
    async with CassandraStateStore(md, name="statestore") as store:
        await store.set("k", b"v")
    columns = raw.execute(
        raw.prepare("SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?"),
        (keyspace, "items"),  # unquoted identifiers are case-insensitive, as in CQL
    )
    assert {(r.column_name, r.type) for r in columns} == {
        ("key", "text"),
        ("value", "blob"),
        ("etag", "uuid"),
        ("content_type", "text"),
    }
    replication = raw.execute(
        raw.prepare("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?"), (keyspace,)
    ).one()
    assert replication.replication["replication_factor"] == "1"
    raw.execute(f"DROP KEYSPACE {keyspace}")


async def test_a_table_written_by_dapr_is_upgraded_and_read(cassandra_node: Node, raw: Any, table: str) -> None:
    replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    raw.execute(f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = {replication}")
    raw.execute(f"CREATE TABLE {KEYSPACE}.{table} (key text PRIMARY KEY, value blob)")
    raw.execute(raw.prepare(f"INSERT INTO {KEYSPACE}.{table} (key, value) VALUES (?, ?)"), ("old", b'"dapr"'))
    md = cassandra_node.metadata(keyspace=KEYSPACE, table=table)
    async with CassandraStateStore(md, name="statestore") as store:
        item = await store.get("old")
        assert item.json() == "dapr"
        assert item.etag is None
        with pytest.raises(ETagMismatchError):  # an item without ETag matches none
            await store.set("old", "new", etag=str(uuid.uuid4()))
        etag = await store.set("old", "new")
        assert (await store.get("old")).etag == etag


async def test_ttl_is_written_with_every_column_and_cleared_by_a_plain_write(
    store: CassandraStateStore, raw: Any, table: str
) -> None:
    await store.set("k", {"a": 1}, ttl=3600, content_type="application/json")
    value, etag, content_type, ttl_value, ttl_etag = _row(raw, table, "k")
    assert bytes(value) == b'{"a":1}'
    assert content_type == "application/json"
    assert 3500 < ttl_value <= 3600
    assert 3500 < ttl_etag <= 3600
    item = await store.get("k")
    assert item.etag == str(etag)
    assert TTL_EXPIRE_TIME in item.metadata
    await store.set("k", {"a": 2})
    assert _row(raw, table, "k")[3:] == (None, None)
    assert TTL_EXPIRE_TIME not in (await store.get("k")).metadata


async def test_first_write_treats_an_expired_item_as_absent(store: CassandraStateStore) -> None:
    await store.set("k", "short-lived", ttl=1)
    with pytest.raises(ETagMismatchError):
        await store.set("k", "too early", concurrency="first-write")
    await eventually(lambda: _absent(store, "k"), within=30)
    await store.set("k", "after expiry", concurrency="first-write")
    assert (await store.get("k")).json() == "after expiry"


async def _absent(store: CassandraStateStore, key: str) -> bool:
    return not (await store.get(key)).found


async def test_etags_are_uuids(store: CassandraStateStore) -> None:
    etag = await store.set("k", 1)
    assert etag is not None
    assert str(uuid.UUID(etag)) == etag
    for bad in ("abc", "1", ""):
        if bad:
            with pytest.raises(ETagInvalidError):
                await store.set("k", 2, etag=bad)
            with pytest.raises(ETagInvalidError):
                await store.delete("k", etag=bad)
    assert (await store.get("k")).json() == 1


async def test_request_consistency_is_accepted(store: CassandraStateStore) -> None:
    etag = await store.set("k", 1, consistency="strong")
    assert (await store.get("k", consistency="strong")).etag == etag
    await store.set("k", 2, consistency="eventual", etag=etag)
    assert (await store.get("k", consistency="eventual")).json() == 2
    await store.delete("k", consistency="strong")
    assert not (await store.get("k")).found


async def test_without_lightweight_transactions_no_etag_is_declared(cassandra_node: Node, table: str) -> None:
    md = cassandra_node.metadata(keyspace=KEYSPACE, table=table, lightweightTransactions="false")
    async with CassandraStateStore(md, name="statestore") as store:
        assert store.features == {StateFeature.TTL, StateFeature.TTL_EXPIRE_TIME}
        assert await store.set("k", 1, ttl=60) is None
        item = await store.get("k")
        assert item.json() == 1
        assert item.etag is None
        assert TTL_EXPIRE_TIME in item.metadata
        with pytest.raises(NotSupportedError):
            await store.set("k", 2, etag=str(uuid.uuid4()))
        with pytest.raises(NotSupportedError):
            await store.set("k", 2, concurrency="first-write")


async def test_the_event_loop_keeps_running_while_queries_wait(store: CassandraStateStore) -> None:
    """Many queries in flight at once: the loop schedules other work while the driver waits."""
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.gather(*(store.set(f"k{i}", i) for i in range(200)))
    values = await store.bulk_get([f"k{i}" for i in range(200)])
    stop.set()
    await task
    assert [v.json() for v in values] == list(range(200))
    assert ticks > 200, "the loop was blocked while the queries ran"


async def test_cancelled_request_leaves_the_store_usable(store: CassandraStateStore) -> None:
    task = asyncio.create_task(store.set("k", 1))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await store.set("k", 2)
    assert (await store.get("k")).json() == 2

"""state.redis against a real Redis server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis
from redis_servers import Server

from blockyard.errors import BulkError, ETagInvalidError, ETagMismatchError, InvalidRequestError
from blockyard.state import DeleteRequest, SetRequest, compile_like
from blockyard_redis.state import RedisStateStore, like_to_glob


@pytest.fixture
async def store(redis_server: Server) -> AsyncIterator[RedisStateStore]:
    async with RedisStateStore(redis_server.metadata(), name="statestore") as s:
        yield s


async def _evalsha_calls(raw: Any) -> int:
    stats = await raw.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


class TestRedisStateStore:
    async def test_roundtrip_bytes_json_and_content_type(self, store: RedisStateStore, ns: str) -> None:
        await store.set(f"{ns}-b", b"\x00\xff")
        await store.set(f"{ns}-j", {"a": [1, 2]}, content_type="application/json")
        b, j = await store.get(f"{ns}-b"), await store.get(f"{ns}-j")
        assert b.value == b"\x00\xff"
        assert b.content_type is None
        assert j.json() == {"a": [1, 2]}
        assert j.content_type == "application/json"

    async def test_missing_key_reads_as_no_item_and_delete_succeeds(self, store: RedisStateStore, ns: str) -> None:
        item = await store.get(f"{ns}-none")
        assert item.value is None
        assert item.etag is None
        assert not item.found
        await store.delete(f"{ns}-none")

    async def test_every_write_changes_the_etag(self, store: RedisStateStore, ns: str) -> None:
        etags = [await store.set(ns, i) for i in range(5)]
        assert len(set(etags)) == 5
        assert all(e and e.isdigit() for e in etags)
        assert (await store.get(ns)).etag == etags[-1]

    async def test_etag_mismatch_and_absent(self, store: RedisStateStore, ns: str) -> None:
        etag = await store.set(ns, 1)
        assert etag is not None
        await store.set(ns, 2)
        with pytest.raises(ETagMismatchError) as info:
            await store.set(ns, 3, etag=etag)
        assert info.value.component == "statestore"
        assert info.value.key == ns
        with pytest.raises(ETagMismatchError):
            await store.set(f"{ns}-absent", 1, etag="9999999")
        with pytest.raises(ETagMismatchError):
            await store.delete(ns, etag=etag)
        assert (await store.get(ns)).json() == 2

    async def test_etag_write_and_delete_succeed_when_matching(self, store: RedisStateStore, ns: str) -> None:
        etag = await store.set(ns, 1)
        etag2 = await store.set(ns, 2, etag=etag)
        await store.delete(ns, etag=etag2)
        assert (await store.get(ns)).value is None

    @pytest.mark.parametrize("bad", ["abc", "1.5", "-3", "١٢"])
    async def test_non_integer_etag_is_invalid(self, store: RedisStateStore, ns: str, bad: str) -> None:
        await store.set(ns, 1)
        with pytest.raises(ETagInvalidError):
            await store.set(ns, 2, etag=bad)
        with pytest.raises(ETagInvalidError):
            await store.delete(ns, etag=bad)
        with pytest.raises(ETagInvalidError):
            await store.transact([SetRequest(ns, 3, etag=bad)])
        with pytest.raises(BulkError) as info:
            await store.bulk_set([SetRequest(ns, 4, etag=bad), SetRequest(f"{ns}-ok", 5)])
        assert isinstance(info.value.errors[ns], ETagInvalidError)
        assert (await store.get(f"{ns}-ok")).json() == 5

    async def test_etag_of_a_deleted_item_never_matches_its_successor(self, store: RedisStateStore, ns: str) -> None:
        old = await store.set(ns, 1)
        await store.delete(ns)
        new = await store.set(ns, 2)
        assert new != old
        assert int(new or 0) > int(old or 0)
        with pytest.raises(ETagMismatchError):
            await store.set(ns, 3, etag=old)

    async def test_first_write_is_insert_if_absent(self, store: RedisStateStore, ns: str) -> None:
        await store.set(ns, "last-write")  # written WITHOUT first-write: still protected
        with pytest.raises(ETagMismatchError):
            await store.set(ns, "x", concurrency="first-write")
        await store.delete(ns)
        etag = await store.set(ns, "first", concurrency="first-write")
        await store.set(ns, "later")  # no sticky flag: a plain write still works
        with pytest.raises(ETagMismatchError):
            await store.set(ns, "y", etag=etag, concurrency="first-write")  # with an ETag, it is checked

    async def test_first_write_over_an_expired_item(self, store: RedisStateStore, ns: str) -> None:
        await store.set(ns, "short", ttl=1)
        await asyncio.sleep(1.2)
        await store.set(ns, "new", concurrency="first-write")
        assert (await store.get(ns)).json() == "new"

    async def test_concurrent_first_write_has_exactly_one_winner(self, store: RedisStateStore, ns: str) -> None:
        async def attempt(i: int) -> bool:
            try:
                await store.set(ns, i, concurrency="first-write")
            except ETagMismatchError:
                return False
            return True

        wins = await asyncio.gather(*(attempt(i) for i in range(32)))
        assert sum(wins) == 1
        assert (await store.get(ns)).json() == wins.index(True)

    async def test_concurrent_read_modify_write_loses_no_update(self, store: RedisStateStore, ns: str) -> None:
        await store.set(ns, 0)

        async def increment() -> None:
            while True:
                item = await store.get(ns)
                try:
                    await store.set(ns, item.json() + 1, etag=item.etag)
                    return
                except ETagMismatchError:
                    continue

        await asyncio.gather(*(increment() for _ in range(40)))
        assert (await store.get(ns)).json() == 40

    async def test_ttl_is_written_with_the_value_and_reported(self, store: RedisStateStore, ns: str, raw: Any) -> None:
        await store.set(ns, 1, ttl=100)
        pttl = await raw.pttl(ns)
        assert 98_000 < pttl <= 100_000
        item = await store.get(ns)
        expires = datetime.strptime(item.metadata["ttlExpireTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert abs((expires - datetime.now(UTC)).total_seconds() - 100) < 3

    async def test_ttl_expires_and_write_without_ttl_clears_it(self, store: RedisStateStore, ns: str, raw: Any) -> None:
        await store.set(ns, 1, metadata={"ttlInSeconds": "1"})
        await store.set(f"{ns}-keep", 1, ttl=1)
        await store.set(f"{ns}-keep", 2)
        assert await raw.pttl(f"{ns}-keep") == -1
        assert "ttlExpireTime" not in (await store.get(f"{ns}-keep")).metadata
        await asyncio.sleep(1.3)
        assert (await store.get(ns)).value is None
        assert (await store.get(f"{ns}-keep")).json() == 2

    async def test_negative_ttl_means_no_expiry_and_bad_ttl_is_rejected(
        self, store: RedisStateStore, ns: str, raw: Any
    ) -> None:
        await store.set(ns, 1, metadata={"ttlInSeconds": "-1"})
        assert await raw.pttl(ns) == -1
        with pytest.raises(InvalidRequestError):
            await store.set(ns, 1, metadata={"ttlInSeconds": "soon"})

    async def test_default_ttl_from_metadata(self, redis_server: Server, ns: str, raw: Any) -> None:
        async with RedisStateStore(redis_server.metadata(ttlInSeconds="50"), name="ttl") as s:
            await s.set(ns, 1)
            await s.set(f"{ns}-own", 1, ttl=500)
        assert 48_000 < await raw.pttl(ns) <= 50_000
        assert await raw.pttl(f"{ns}-own") > 490_000

    async def test_transaction_applies_all_in_order(self, store: RedisStateStore, ns: str) -> None:
        etag = await store.set(f"{ns}-a", "old")
        await store.set(f"{ns}-gone", 1)
        await store.transact(
            [
                SetRequest(f"{ns}-a", "new", etag=etag),
                DeleteRequest(f"{ns}-gone"),
                SetRequest(f"{ns}-b", 1),
                SetRequest(f"{ns}-b", 2),
                SetRequest(f"{ns}-c", 3, concurrency="first-write", ttl=100),
            ]
        )
        items = await store.bulk_get([f"{ns}-a", f"{ns}-gone", f"{ns}-b", f"{ns}-c"])
        assert [i.json() for i in items] == ["new", None, 2, 3]
        assert "ttlExpireTime" in items[3].metadata

    @pytest.mark.parametrize("failing", ["etag", "first-write", "delete-etag"])
    async def test_transaction_is_all_or_nothing(self, store: RedisStateStore, ns: str, failing: str) -> None:
        await store.set(f"{ns}-x", "before")
        choices: dict[str, SetRequest | DeleteRequest] = {
            "etag": SetRequest(f"{ns}-x", "after", etag="9999999"),
            "first-write": SetRequest(f"{ns}-x", "after", concurrency="first-write"),
            "delete-etag": DeleteRequest(f"{ns}-x", etag="9999999"),
        }
        last = choices[failing]
        with pytest.raises(ETagMismatchError) as info:
            await store.transact([SetRequest(f"{ns}-a", 1), DeleteRequest(f"{ns}-x"), last])
        assert info.value.key == f"{ns}-x"
        assert (await store.get(f"{ns}-a")).value is None
        assert (await store.get(f"{ns}-x")).json() == "before"

    async def test_bulk_set_is_one_round_trip_and_reports_per_key(self, own_redis: Server, ns: str) -> None:
        # the server-wide EVALSHA counter is read on a server only this test uses
        async with RedisStateStore(own_redis.metadata(), name="statestore") as store:
            raw = Redis(host=own_redis.host, port=own_redis.port)
            try:
                await self._bulk_set_is_one_round_trip(store, raw, ns)
            finally:
                await raw.aclose()

    async def _bulk_set_is_one_round_trip(self, store: RedisStateStore, raw: Any, ns: str) -> None:
        etag = await store.set(f"{ns}-e", "v1")
        await store.set(f"{ns}-exists", 1)
        requests = [SetRequest(f"{ns}-{i}", i) for i in range(300)]
        requests += [
            SetRequest(f"{ns}-e", "v2", etag="9999999"),
            SetRequest(f"{ns}-exists", 2, concurrency="first-write"),
            SetRequest(f"{ns}-e2", "ok", etag=None),
        ]
        await store.bulk_set([SetRequest(f"{ns}-warm", 0)])  # the script is loaded once per server
        before = await _evalsha_calls(raw)
        with pytest.raises(BulkError) as info:
            await store.bulk_set(requests)
        assert await _evalsha_calls(raw) - before == 1
        assert set(info.value.errors) == {f"{ns}-e", f"{ns}-exists"}
        assert all(isinstance(e, ETagMismatchError) for e in info.value.errors.values())
        items = await store.bulk_get([f"{ns}-{i}" for i in range(300)] + [f"{ns}-e", f"{ns}-e2"])
        assert [i.json() for i in items] == [*range(300), "v1", "ok"]
        await store.bulk_set([SetRequest(f"{ns}-e", "v3", etag=etag)])

    async def test_bulk_get_keeps_order_and_reports_missing(self, store: RedisStateStore, ns: str, raw: Any) -> None:
        await store.set(f"{ns}-1", 1, ttl=100)
        await raw.set(f"{ns}-str", b"not a hash")
        items = await store.bulk_get([f"{ns}-0", f"{ns}-1", f"{ns}-str", f"{ns}-1"])
        assert [i.key for i in items] == [f"{ns}-0", f"{ns}-1", f"{ns}-str", f"{ns}-1"]
        assert items[0].value is None
        assert items[0].error is None
        assert items[1].json() == 1
        assert "ttlExpireTime" in items[1].metadata
        assert items[2].error is not None
        assert "WRONGTYPE" in str(items[2].error)

    async def test_bulk_get_of_many_keys_in_chunks(self, store: RedisStateStore, ns: str) -> None:
        await store.bulk_set([SetRequest(f"{ns}-{i}", i) for i in range(2500)])
        items = await store.bulk_get([f"{ns}-{i}" for i in range(2500)])
        assert [i.json() for i in items] == list(range(2500))

    async def test_bulk_delete_reports_per_key(self, store: RedisStateStore, ns: str) -> None:
        e1 = await store.set(f"{ns}-1", 1)
        await store.set(f"{ns}-2", 2)
        with pytest.raises(BulkError) as info:
            await store.bulk_delete(
                [DeleteRequest(f"{ns}-1", etag=e1), DeleteRequest(f"{ns}-2", etag="9999999"), DeleteRequest(f"{ns}-3")]
            )
        assert list(info.value.errors) == [f"{ns}-2"]
        assert [i.value for i in await store.bulk_get([f"{ns}-1", f"{ns}-2"])] == [None, b"2"]

    async def test_keys_like(self, store: RedisStateStore, ns: str, raw: Any) -> None:
        keys = [f"{ns}||a", f"{ns}||ab", f"{ns}||é", f"{ns}||*[x]?\\", f"{ns}||b%", f"{ns}||b_"]
        await store.bulk_set([SetRequest(k, 1) for k in keys])
        await raw.set(f"{ns}||string", b"not a state item")
        await store.set(f"{ns}||expired", 1, ttl=1)

        async def like(pattern: str) -> list[str]:
            return (await store.keys_like(pattern)).keys

        assert await like(f"{ns}||_") == sorted([f"{ns}||a", f"{ns}||é"])
        assert await like(f"{ns}||*[x]?\\") == [f"{ns}||*[x]?\\"]
        assert await like(f"{ns}||a%") == [f"{ns}||a", f"{ns}||ab"]
        assert await like(f"{ns}||b%") == sorted([f"{ns}||b%", f"{ns}||b_"])
        await asyncio.sleep(1.2)
        assert set(await like(f"{ns}%")) == set(keys)

    async def test_keys_like_pages_are_stable(self, store: RedisStateStore, ns: str) -> None:
        keys = [f"{ns}-{i:03d}" for i in range(25)]
        await store.bulk_set([SetRequest(k, 1) for k in keys])
        seen: list[str] = []
        token = None
        pages = 0
        while True:
            page = await store.keys_like(f"{ns}-%", page_size=10, continuation_token=token)
            seen += page.keys
            pages += 1
            # writes during paging do not repeat or skip keys that live throughout
            await store.set(f"{ns}-000", 2)
            if page.continuation_token is None:
                break
            token = page.continuation_token
        assert seen == keys
        assert pages == 3

    def test_like_translation(self) -> None:
        assert like_to_glob("a%b_c*") == "a*b*c\\*"
        assert compile_like("a%b_").fullmatch("aXXbé")
        assert not compile_like("a.b").fullmatch("axb")


async def test_delete_with_prefix_treats_glob_characters_literally(store: RedisStateStore, ns: str) -> None:
    prefix = f"{ns}*[?]\\"
    await store.bulk_set(
        [
            SetRequest(f"{prefix}||a", 1),
            SetRequest(f"{prefix}||b", 2),
            SetRequest(f"{prefix}||deeper||c", 3),  # not directly under the prefix
            SetRequest(f"{ns}X[?]\\||a", 4),  # what an unescaped '*' would match
            SetRequest(f"{ns}*[?]\\Z||a", 5),  # another prefix that starts the same
        ]
    )
    assert await store.delete_with_prefix(prefix) == 2
    remaining = [k for k in [f"{prefix}||deeper||c", f"{ns}X[?]\\||a", f"{ns}*[?]\\Z||a"] if (await store.get(k)).found]
    assert len(remaining) == 3
    assert not (await store.get(f"{prefix}||a")).found

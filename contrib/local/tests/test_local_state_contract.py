"""The state contract, run against both embedded stores (in-memory and SQLite on a real file)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blockyard.errors import BulkError, ETagMismatchError, InvalidRequestError
from blockyard.state import DeleteRequest, SetRequest, StateStore


async def test_values_round_trip(store: StateStore) -> None:
    await store.set("json", {"a": [1, 2]})
    await store.set("bytes", b"\x00\xff\xfe raw")
    await store.set("text-bytes", b'{"a":"b"}')
    await store.set("empty", "")
    assert (await store.get("json")).json() == {"a": [1, 2]}
    assert (await store.get("bytes")).value == b"\x00\xff\xfe raw"
    assert (await store.get("text-bytes")).value == b'{"a":"b"}'
    assert (await store.get("empty")).value == b'""'
    missing = await store.get("nope")
    assert missing.value is None
    assert missing.etag is None
    assert not missing.found


async def test_content_type_is_kept(store: StateStore) -> None:
    await store.set("k", {"a": 1}, content_type="application/json")
    assert (await store.get("k")).content_type == "application/json"


async def test_etags(store: StateStore) -> None:
    e1 = await store.set("k", 1)
    item = await store.get("k")
    assert e1
    assert item.etag == e1
    with pytest.raises(ETagMismatchError) as info:
        await store.set("k", 2, etag="not-the-etag")
    assert info.value.key == "k"
    assert info.value.operation == "set"
    e2 = await store.set("k", 2, etag=e1)
    assert e2
    assert e2 != e1
    with pytest.raises(ETagMismatchError):
        await store.set("k", 3, etag=e1)  # stale
    with pytest.raises(ETagMismatchError):
        await store.set("absent", 3, etag=e1)
    with pytest.raises(ETagMismatchError):
        await store.delete("k", etag=e1)
    assert (await store.get("k")).json() == 2
    await store.delete("k", etag=e2)
    gone = await store.get("k")
    assert gone.value is None
    assert gone.etag is None
    await store.delete("k")  # missing key without ETag: no error
    with pytest.raises(ETagMismatchError):
        await store.delete("k", etag=e2)


async def test_empty_etag_counts_as_none(store: StateStore) -> None:
    await store.set("k", 1)
    await store.set("k", 2, etag="")
    assert (await store.get("k")).json() == 2


async def test_first_write(store: StateStore) -> None:
    await store.set("k", 1, concurrency="first-write")
    with pytest.raises(ETagMismatchError):
        await store.set("k", 2, concurrency="first-write")
    assert (await store.get("k")).json() == 1
    # with an ETag, first-write checks the ETag
    etag = (await store.get("k")).etag
    new = await store.set("k", 3, etag=etag, concurrency="first-write")
    with pytest.raises(ETagMismatchError):
        await store.set("k", 4, etag=etag, concurrency="first-write")
    assert new != etag
    # a key written with last-write is also "present" for first-write
    await store.set("lw", 1)
    with pytest.raises(ETagMismatchError):
        await store.set("lw", 2, concurrency="first-write")


async def test_first_write_over_expired_item(store: StateStore) -> None:
    await store.set("k", 1, ttl=1)
    await asyncio.sleep(1.1)
    await store.set("k", 2, concurrency="first-write")
    item = await store.get("k")
    assert item.json() == 2
    assert "ttlExpireTime" not in item.metadata


async def test_concurrent_first_write_has_one_winner(store: StateStore) -> None:
    async def attempt(i: int) -> bool:
        try:
            await store.set("race", i, concurrency="first-write")
        except ETagMismatchError:
            return False
        return True

    wins = await asyncio.gather(*(attempt(i) for i in range(32)))
    assert sum(wins) == 1
    assert (await store.get("race")).json() == wins.index(True)


async def test_concurrent_read_modify_write_loses_no_update(store: StateStore) -> None:
    await store.set("counter", 0)

    async def increment() -> None:
        while True:
            item = await store.get("counter")
            try:
                await store.set("counter", item.json() + 1, etag=item.etag)
                return
            except ETagMismatchError:
                await asyncio.sleep(0)

    await asyncio.gather(*(increment() for _ in range(25)))
    assert (await store.get("counter")).json() == 25


async def test_ttl_and_expire_time(store: StateStore) -> None:
    before = time.time()
    await store.set("long", 1, ttl=3600)
    expire = (await store.get("long")).metadata["ttlExpireTime"]
    at = datetime.strptime(expire, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    assert before + 3600 - 2 <= at <= time.time() + 3600
    await store.set("short", 1, metadata={"ttlInSeconds": "1"})
    assert (await store.get("short")).json() == 1
    await asyncio.sleep(1.1)
    assert (await store.get("short")).value is None
    assert (await store.bulk_get(["short"]))[0].value is None


async def test_write_without_ttl_removes_it(store: StateStore) -> None:
    await store.set("k", 1, ttl=1)
    await store.set("k", 2)
    await store.set("m", 1, ttl=1)
    await store.set("m", 2, ttl=-1)
    assert "ttlExpireTime" not in (await store.get("k")).metadata
    await asyncio.sleep(1.1)
    assert (await store.get("k")).json() == 2
    assert (await store.get("m")).json() == 2


async def test_no_ttl_no_expire_time(store: StateStore) -> None:
    await store.set("k", 1)
    assert "ttlExpireTime" not in (await store.get("k")).metadata


@pytest.mark.parametrize("bad", ["foo", "1.5", "-2", str(2**31)])
async def test_bad_ttl(store: StateStore, bad: str) -> None:
    with pytest.raises(InvalidRequestError, match="ttlInSeconds"):
        await store.set("k", 1, metadata={"ttlInSeconds": bad})
    assert (await store.get("k")).value is None


async def test_transaction_is_ordered(store: StateStore) -> None:
    await store.set("key1", "v1")
    await store.transact(
        [
            DeleteRequest("key1"),
            SetRequest("key2", "x"),
            DeleteRequest("key2"),
            SetRequest("key3", "value3"),
            DeleteRequest("never-written"),
        ]
    )
    assert (await store.get("key1")).value is None
    assert (await store.get("key2")).value is None
    assert (await store.get("key3")).value == b'"value3"'


async def test_transaction_checks_against_earlier_operations(store: StateStore) -> None:
    await store.set("k", 1)
    await store.transact([DeleteRequest("k"), SetRequest("k", 2, concurrency="first-write")])
    assert (await store.get("k")).json() == 2


@pytest.mark.parametrize("failing", ["bad-etag", "first-write", "etag-on-missing"])
async def test_transaction_is_atomic(store: StateStore, failing: str) -> None:
    etag = await store.set("a", "old")
    await store.set("b", "old")
    choices: dict[str, SetRequest | DeleteRequest] = {
        "bad-etag": SetRequest("b", "new", etag="wrong"),
        "first-write": SetRequest("b", "new", concurrency="first-write"),
        "etag-on-missing": DeleteRequest("missing", etag="x"),
    }
    bad = choices[failing]
    with pytest.raises(ETagMismatchError) as info:
        await store.transact([SetRequest("a", "new", etag=etag), DeleteRequest("c"), SetRequest("d", 1), bad])
    assert info.value.operation == "transact"
    assert (await store.get("a")).json() == "old"
    assert (await store.get("a")).etag == etag
    assert (await store.get("b")).json() == "old"
    assert (await store.get("d")).value is None


async def test_transaction_with_invalid_request_applies_nothing(store: StateStore) -> None:
    with pytest.raises(InvalidRequestError):
        await store.transact([SetRequest("a", 1), SetRequest("", 2)])
    assert (await store.get("a")).value is None


async def test_bulk_set_and_delete_report_per_key(store: StateStore) -> None:
    await store.bulk_set([SetRequest("k1", 1), SetRequest("k2", 2), SetRequest("k3", b"\x01")])
    items = await store.bulk_get(["k1", "missing", "k2", "k3"])
    assert [i.key for i in items] == ["k1", "missing", "k2", "k3"]
    assert [i.value for i in items] == [b"1", None, b"2", b"\x01"]
    assert all(i.error is None for i in items)
    e1, e2 = items[0].etag, items[2].etag
    with pytest.raises(BulkError) as info:
        await store.bulk_set([SetRequest("k1", 10, etag="bad"), SetRequest("k2", 20, etag=e2)])
    assert list(info.value.errors) == ["k1"]
    assert isinstance(info.value.errors["k1"], ETagMismatchError)
    k1, k2 = await store.bulk_get(["k1", "k2"])
    assert (k1.json(), k1.etag) == (1, e1)
    assert k2.json() == 20
    assert k2.etag != e2
    with pytest.raises(BulkError) as info:
        await store.bulk_delete([DeleteRequest("k1", etag=e1), DeleteRequest("k2", etag="bad")])
    assert list(info.value.errors) == ["k2"]
    assert isinstance(info.value.errors["k2"], ETagMismatchError)
    assert (await store.get("k1")).value is None
    assert (await store.get("k2")).json() == 20


async def test_bulk_set_reports_invalid_requests_and_writes_the_rest(store: StateStore) -> None:
    with pytest.raises(BulkError) as info:
        await store.bulk_set([SetRequest("ok", 1), SetRequest("bad", 1, ttl="x")])  # type: ignore[arg-type]
    assert list(info.value.errors) == ["bad"]
    assert isinstance(info.value.errors["bad"], InvalidRequestError)
    assert (await store.get("ok")).json() == 1


async def test_delete_with_prefix(store: StateStore) -> None:
    keys = ["prefix||key1", "prefix||key2", "prefix||prefix2||key3", "other-prefix||key1", "no-prefix"]
    await store.bulk_set([SetRequest(k, k) for k in keys])
    assert await store.delete_with_prefix("prefix||") == 2
    assert await store.delete_with_prefix("other-prefix") == 1
    left = [i.key for i in await store.bulk_get(keys) if i.found]
    assert left == ["prefix||prefix2||key3", "no-prefix"]
    for bad in ("", "||"):
        with pytest.raises(InvalidRequestError, match="prefix is required"):
            await store.delete_with_prefix(bad)


async def test_delete_with_prefix_treats_wildcards_literally(store: StateStore) -> None:
    await store.bulk_set([SetRequest("a%||x", 1), SetRequest("ab||x", 1), SetRequest("a*||x", 1)])
    assert await store.delete_with_prefix("a%") == 1
    assert await store.delete_with_prefix("a*") == 1
    assert (await store.get("ab||x")).found


async def _all_keys(store: StateStore, pattern: str, page_size: int | None = None) -> list[str]:
    out: list[str] = []
    token = None
    while True:
        page = await store.keys_like(pattern, page_size=page_size, continuation_token=token)
        out.extend(page.keys)
        token = page.continuation_token
        if token is None:
            return out


async def test_keys_like_patterns(store: StateStore) -> None:
    keys = ["prefix||key1", "prefix||key2", "prefix||x||key3", "abc1", "abcd", "ABC1", "hello%%wor.kflow", "x_y"]
    await store.bulk_set([SetRequest(k, 1) for k in keys])
    assert sorted(await _all_keys(store, "%")) == sorted(keys)
    assert await _all_keys(store, "prefix||%") == ["prefix||key1", "prefix||key2", "prefix||x||key3"]
    assert await _all_keys(store, "%key1") == ["prefix||key1"]
    assert await _all_keys(store, "%||%||%") == ["prefix||x||key3"]
    assert await _all_keys(store, "abc_") == ["abc1", "abcd"]  # case-sensitive
    assert await _all_keys(store, "hello%%wor.kflow") == ["hello%%wor.kflow"]
    assert await _all_keys(store, "hello%wor_kflow") == ["hello%%wor.kflow"]
    assert await _all_keys(store, "hello%wor.k%") == ["hello%%wor.kflow"]
    assert await _all_keys(store, "hello%wor.kflo") == []
    assert await _all_keys(store, "hello%worXkflow") == []  # '.' is literal
    assert await _all_keys(store, "x[_]y") == []  # brackets are literal too
    assert await _all_keys(store, "x*y") == []


async def test_keys_like_paging(store: StateStore) -> None:
    keys = [f"k{i:02d}" for i in range(12)]
    await store.bulk_set([SetRequest(k, 1) for k in keys])
    page = await store.keys_like("k%")
    assert page.keys == keys
    assert page.continuation_token is None
    p1 = await store.keys_like("k%", page_size=6)
    assert len(p1.keys) == 6
    assert p1.continuation_token
    p2 = await store.keys_like("k%", page_size=5, continuation_token=p1.continuation_token)
    assert len(p2.keys) == 5
    assert p2.continuation_token
    p3 = await store.keys_like("k%", page_size=100, continuation_token=p2.continuation_token)
    assert len(p3.keys) == 1
    assert p3.continuation_token is None
    assert p1.keys + p2.keys + p3.keys == keys
    last = await store.keys_like("k%", page_size=12)
    assert last.continuation_token is None


async def test_keys_like_paging_is_stable_across_writes(store: StateStore) -> None:
    keys = [f"k{i:02d}" for i in range(10)]
    await store.bulk_set([SetRequest(k, 1) for k in keys])
    p1 = await store.keys_like("k%", page_size=4)
    await store.delete("k00")  # already listed
    await store.delete("k07")  # not yet listed
    await store.set("k055", 1)  # inserted after the token
    await store.set("a-not-matching", 1)
    p2 = await store.keys_like("k%", page_size=100, continuation_token=p1.continuation_token)
    assert p1.keys == keys[:4]
    assert p2.keys == ["k04", "k05", "k055", "k06", "k08", "k09"]


async def test_keys_like_many_keys_without_page_size(store: StateStore) -> None:
    await store.bulk_set([SetRequest(f"n{i}", i) for i in range(1025)])
    page = await store.keys_like("n%")
    assert len(page.keys) == 1025
    assert page.continuation_token is None


async def test_keys_like_skips_expired(store: StateStore) -> None:
    await store.set("t-live", 1)
    await store.set("t-expiring", 1, ttl=1)
    assert sorted((await store.keys_like("t-%")).keys) == ["t-expiring", "t-live"]
    await asyncio.sleep(1.1)
    assert (await store.keys_like("t-%")).keys == ["t-live"]


async def test_keys_like_bad_input(store: StateStore) -> None:
    with pytest.raises(InvalidRequestError, match="cannot be empty"):
        await store.keys_like("")
    with pytest.raises(InvalidRequestError, match="page_size"):
        await store.keys_like("%", page_size=0)
    with pytest.raises(InvalidRequestError, match="continuation token"):
        await store.keys_like("%", continuation_token="garbage")


def _like(pattern: str, key: str) -> bool:
    """Reference LIKE matcher (recursive, no regex)."""
    if not pattern:
        return not key
    head = pattern[0]
    if head == "%":
        return any(_like(pattern[1:], key[i:]) for i in range(len(key) + 1))
    if not key:
        return False
    return (head == "_" or head == key[0]) and _like(pattern[1:], key[1:])


_alphabet = st.sampled_from(list("ab%_.*?[]|\\xA\n"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(st.text(_alphabet, min_size=1, max_size=6), max_size=8), pattern=st.text(_alphabet, min_size=1))
async def test_keys_like_matches_the_reference(store: StateStore, keys: list[str], pattern: str) -> None:
    await store.bulk_set([SetRequest(k, 1) for k in keys])
    try:
        got = await _all_keys(store, pattern, page_size=3)
        assert got == sorted(k for k in set(keys) if _like(pattern, k))
    finally:
        await store.bulk_delete([DeleteRequest(k) for k in set(keys)])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.binary(max_size=64), key=st.text(min_size=1, max_size=10))
async def test_bytes_round_trip_exactly(store: StateStore, value: bytes, key: str) -> None:
    await store.set(key, value)
    assert (await store.get(key)).value == value
    assert (await store.bulk_get([key]))[0].value == value


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["set", "delete", "fw", "etag"]), st.sampled_from("abc"), st.integers(0, 9)),
        max_size=25,
    )
)
async def test_behaves_like_a_dict(store: StateStore, ops: list[tuple[str, str, int]]) -> None:
    """Random sequences of writes leave the store equal to a dict model, with the same conflicts."""
    model: dict[str, int] = {}
    etags: dict[str, str] = {}
    await store.bulk_delete([DeleteRequest(k) for k in "abc"])
    for kind, key, value in ops:
        if kind == "set":
            etags[key] = await store.set(key, value) or ""
            model[key] = value
        elif kind == "delete":
            await store.delete(key)
            model.pop(key, None)
        elif kind == "fw":
            if key in model:
                with pytest.raises(ETagMismatchError):
                    await store.set(key, value, concurrency="first-write")
            else:
                etags[key] = await store.set(key, value, concurrency="first-write") or ""
                model[key] = value
        elif key in model:
            etags[key] = await store.set(key, value, etag=etags[key]) or ""
            model[key] = value
        else:
            with pytest.raises(ETagMismatchError):
                await store.set(key, value, etag="stale")
    items = await store.bulk_get(list("abc"))
    assert {i.key: i.json() for i in items if i.found} == model

"""keyPrefix: Dapr's key layout on every state store, applied by the base class."""

from __future__ import annotations

import pytest

from blockyard.errors import BulkError, ComponentConfigError, InvalidRequestError
from blockyard.keyprefix import resolve_prefix
from blockyard.state import DeleteRequest, SetRequest
from blockyard_local.state_memory import InMemoryStateStore


@pytest.mark.parametrize(
    ("strategy", "app_id", "namespace", "expected"),
    [
        ("appid", "shop", None, "shop||"),
        ("AppID", None, None, ""),
        ("name", None, None, "store||"),
        ("namespace", "shop", "prod", "prod.shop||"),
        ("namespace", "shop", "", "shop||"),
        ("namespace", None, "prod", ""),
        ("none", "shop", None, ""),
        ("", "shop", None, ""),
        ("tenant-a", "shop", None, "tenant-a||"),
    ],
)
def test_prefixes_follow_daprd(strategy: str, app_id: str | None, namespace: str | None, expected: str) -> None:
    assert resolve_prefix(strategy, name="store", app_id=app_id, namespace=namespace) == expected


def test_namespace_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAMESPACE", "staging")
    assert resolve_prefix("namespace", name="s", app_id="shop") == "staging.shop||"


def test_a_literal_prefix_with_the_separator_is_refused_at_load() -> None:
    with pytest.raises(ComponentConfigError, match="keyPrefix"):
        InMemoryStateStore({"keyPrefix": "a||b"}, name="s")


async def _store(strategy: str | None, app_id: str | None) -> InMemoryStateStore:
    store = InMemoryStateStore({"keyPrefix": strategy} if strategy else {}, name="s")
    store.app_id = app_id
    await store.init()
    return store


async def test_keys_are_stored_under_the_prefix_and_handed_back_without_it() -> None:
    store = await _store(None, "shop")
    raw = await _store("none", None)
    raw._data = store._data  # one backend seen with and without prefix
    try:
        etag = await store.set("order", {"n": 1})
        item = await raw.get("shop||order")
        assert (item.json(), item.etag) == ({"n": 1}, etag)
        assert (await store.get("order")).key == "order"
        await store.bulk_set([SetRequest("a", 1), SetRequest("b", 2)])
        assert [i.key for i in await store.bulk_get(["a", "b"])] == ["a", "b"]
        assert (await store.keys_like("%")).keys == ["a", "b", "order"]
        assert {i.key for i in (await store.query({"filter": {}})).results} == {"a", "b", "order"}
        with pytest.raises(BulkError) as caught:
            await store.bulk_delete([DeleteRequest("a", etag="999")])
        assert set(caught.value.errors) == {"a"}
        await store.transact([DeleteRequest("a"), DeleteRequest("b")])
        assert (await raw.keys_like("%")).keys == ["shop||order"]
    finally:
        await store.close()
        await raw.close()


async def test_keys_holding_the_separator_are_refused_only_under_a_prefix() -> None:
    store = await _store("name", None)
    plain = await _store(None, None)
    try:
        with pytest.raises(InvalidRequestError, match=r"'\|\|'"):
            await store.set("a||b", 1)
        with pytest.raises(InvalidRequestError):
            await store.get("a||b")
        await plain.set("a||b", 1)
        assert (await plain.get("a||b")).value == b"1"
    finally:
        await store.close()
        await plain.close()

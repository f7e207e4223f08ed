"""The query API of state.sqlite (JSON1) and state.in-memory beyond the kit's query suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from blockyard.state import QueryableStateStore
from blockyard_conformance.support import eventually
from blockyard_local.state_memory import InMemoryStateStore
from blockyard_local.state_sqlite import SQLiteStateStore

ODD_NAMES = ['q"x', "it's", "a b", "$x", "[0]", "x' OR '1'='1", "ключ"]


@pytest.fixture(params=["sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[QueryableStateStore]:
    s: QueryableStateStore
    if request.param == "sqlite":
        s = SQLiteStateStore({"connectionString": str(tmp_path / "q.db")}, name="q")
    else:
        s = InMemoryStateStore(name="q")
    async with s:
        yield s


async def test_any_member_name_and_value_is_matched_literally(store: QueryableStateStore) -> None:
    """Member names with quotes, spaces, JSON-path and SQL syntax match only themselves (a dot separates members)."""
    for i, name in enumerate(ODD_NAMES):
        await store.set(f"k{i}", {name: name, "nested": {name: i}})
    await store.set("text", "x' OR '1'='1")
    await store.set("not-json", "{not json")
    for i, name in enumerate(ODD_NAMES):
        for filter_ in ({"EQ": {name: name}}, {"EQ": {f"nested.{name}": i}}, {"IN": {name: ["nope", name]}}):
            found = await store.query({"filter": filter_})
            assert [item.key for item in found.results] == [f"k{i}"], filter_


async def test_expired_items_are_not_returned(store: QueryableStateStore) -> None:
    await store.set("live", {"v": 1})
    await store.set("short", {"v": 1}, ttl=1)
    assert {i.key for i in (await store.query({"filter": {"EQ": {"v": 1}}})).results} == {"live", "short"}

    async def expired() -> bool:
        return not (await store.get("short")).found

    await eventually(expired, within=30, what="the expiry of 'short'")
    assert [i.key for i in (await store.query({"filter": {"EQ": {"v": 1}}})).results] == ["live"]


async def test_results_carry_value_etag_and_metadata(store: QueryableStateStore) -> None:
    etag = await store.set("a", {"v": 1}, ttl=3600, content_type="application/json")
    (item,) = (await store.query({"filter": {"EQ": {"v": 1}}})).results
    assert (item.key, item.json(), item.etag, item.content_type) == ("a", {"v": 1}, etag, "application/json")
    assert "ttlExpireTime" in item.metadata

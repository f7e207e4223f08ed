"""The query API suite (``QUERY_API``): every operator, type mixes, missing fields, sort, paging.

The semantics checked are :mod:`blockyard.query`'s. Every test writes its own items carrying a
fresh ``run`` field and ANDs ``{"EQ": {"run": ...}}`` into each filter, so other data in the
store never interferes. The property test draws filters, sorts and page sizes with hypothesis
and compares each answer, in order and across pages, with the reference evaluator.

Knobs (class attributes): ``query_examples`` (hypothesis examples), ``query_page_limit``.
:class:`~blockyard_conformance.state_suite.StateStoreSuite` includes these tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blockyard.errors import InvalidRequestError
from blockyard.query import MISSING, Query, parse_query
from blockyard.state import SetRequest, StateStore
from blockyard_conformance.marks import capability
from blockyard_conformance.support import fresh_id

if TYPE_CHECKING:
    from blockyard_conformance.state_suite import Keys

__all__ = ["QuerySuite", "query_all"]

T = TypeVar("T")

_PRODUCTS: dict[str, dict[str, Any]] = {
    "a": {"name": "apple", "qty": 5, "price": 1.5, "on": True, "product": {"value": 10, "tag": "x"}},
    "b": {"name": "banana", "qty": 12, "price": 0.25, "on": False, "product": {"value": 3}},
    "c": {"name": "cherry", "qty": 5, "on": True, "product": {"value": 30, "tag": "y"}},
    "d": {"name": "10", "qty": "5", "on": "true", "product": "flat"},
    "e": {"qty": None, "product": {"value": "10"}},
}

#: (id, filter, expected item suffixes) over :data:`_PRODUCTS`.
OPERATOR_CASES: list[tuple[str, dict[str, Any] | None, set[str]]] = [
    ("no-filter", None, {"a", "b", "c", "d", "e"}),
    ("eq-number", {"EQ": {"qty": 5}}, {"a", "c"}),
    ("eq-string-not-number", {"EQ": {"qty": "5"}}, {"d"}),
    ("neq-skips-other-types-and-missing", {"NEQ": {"qty": 5}}, {"b"}),
    ("neq-string-skips-missing", {"NEQ": {"name": "apple"}}, {"b", "c", "d"}),
    ("gt", {"GT": {"qty": 5}}, {"b"}),
    ("gte", {"GTE": {"qty": 5}}, {"a", "b", "c"}),
    ("lt", {"LT": {"qty": 12}}, {"a", "c"}),
    ("lte", {"LTE": {"qty": 12}}, {"a", "b", "c"}),
    ("int-vs-float", {"LT": {"price": 1}}, {"b"}),
    ("float-eq", {"EQ": {"price": 1.5}}, {"a"}),
    ("string-order", {"GT": {"name": "b"}}, {"b", "c"}),
    ("string-lt-is-by-code-point", {"LT": {"name": "apple"}}, {"d"}),
    ("bool-eq", {"EQ": {"on": True}}, {"a", "c"}),
    ("bool-not-string", {"EQ": {"on": False}}, {"b"}),
    ("bool-order", {"GT": {"on": False}}, {"a", "c"}),
    ("in", {"IN": {"name": ["apple", "cherry", "nope"]}}, {"a", "c"}),
    ("in-mixed-types", {"IN": {"qty": [5, "5"]}}, {"a", "c", "d"}),
    ("dotted-path", {"EQ": {"product.value": 10}}, {"a"}),
    ("dotted-path-type", {"EQ": {"product.value": "10"}}, {"e"}),
    ("dotted-path-range", {"GT": {"product.value": 5}}, {"a", "c"}),
    ("dotted-path-missing-member", {"NEQ": {"product.tag": "x"}}, {"c"}),
    ("through-a-scalar", {"EQ": {"product.value.deeper": 1}}, set()),
    ("and", {"AND": [{"GTE": {"qty": 5}}, {"EQ": {"on": True}}]}, {"a", "c"}),
    ("or", {"OR": [{"EQ": {"name": "apple"}}, {"EQ": {"product.value": 3}}]}, {"a", "b"}),
    (
        "nested",
        {"AND": [{"OR": [{"EQ": {"name": "apple"}}, {"EQ": {"name": "banana"}}]}, {"NEQ": {"qty": 12}}]},
        {"a"},
    ),
    (
        "deeply-nested",
        {
            "OR": [
                {"AND": [{"EQ": {"qty": 5}}, {"OR": [{"EQ": {"product.tag": "y"}}, {"LT": {"price": 0}}]}]},
                {"EQ": {"qty": "5"}},
            ]
        },
        {"c", "d"},
    ),
]

#: Sort values in their contract order (ascending), each a separate item.
_SORT_VALUES: list[tuple[str, Any]] = [
    ("s00", MISSING),
    ("s01", None),
    ("s02", False),
    ("s03", True),
    ("s04", -2.5),
    ("s05", 0),
    ("s06", 1),
    ("s07", 7.25),
    ("s08", ""),
    ("s09", "A"),
    ("s10", "a"),
    ("s11", "ab"),
    ("s12", [1, 2]),
    ("s13", {"x": 1}),
]

#: Values of the property test's documents: every JSON type, with near-collisions across types.
_POOL: list[Any] = [MISSING, None, False, True, -2, 0, 1, 1.5, 3, "", "a", "ab", "b", "1", [1], {"x": 1}]
_OPERANDS = [False, True, -2, 0, 0.5, 1, 1.5, 2, 3, "", "a", "ab", "b", "1"]
_PATHS = ["f", "g", "n.x", "n", "absent.deeper"]


def _doc(run: str, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"run": run}
    doc.update({k: v for k, v in fields.items() if v is not MISSING})
    return doc


def _scoped(run: str, filter_: dict[str, Any] | None) -> dict[str, Any]:
    mine = {"EQ": {"run": run}}
    return {"AND": [mine, filter_]} if filter_ else mine


async def query_all(store: StateStore, query: dict[str, Any], *, max_pages: int = 1000) -> list[list[str]]:
    """Page through ``query`` to the end; return the keys of each page."""
    pages: list[list[str]] = []
    token: str | None = None
    for _ in range(max_pages):
        page = dict(query.get("page") or {})
        if token is not None:
            page["token"] = token
        result = await store.query({**query, "page": page} if page else query)
        pages.append([item.key for item in result.results])
        limit = page.get("limit")
        assert limit is None or len(result.results) <= limit, f"a page holds {len(result.results)} > limit {limit}"
        if result.token is None:
            return pages
        token = result.token
    raise AssertionError(f"no last page after {max_pages} pages")


def _filters() -> st.SearchStrategy[dict[str, Any]]:
    path = st.sampled_from(_PATHS)
    operand = st.sampled_from(_OPERANDS)
    compare = st.builds(
        lambda op, p, v: {op: {p: v}}, st.sampled_from(["EQ", "NEQ", "GT", "GTE", "LT", "LTE"]), path, operand
    )
    in_ = st.builds(lambda p, vs: {"IN": {p: vs}}, path, st.lists(operand, min_size=1, max_size=3))
    leaf = compare | in_

    def branch(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        children = st.lists(inner, min_size=2, max_size=3)
        return st.builds(lambda op, fs: {op: fs}, st.sampled_from(["AND", "OR"]), children)

    return st.recursive(leaf, branch, max_leaves=5)


def _sorts() -> st.SearchStrategy[list[dict[str, str]]]:
    key = st.builds(lambda p, o: {"key": p, "order": o}, st.sampled_from(_PATHS), st.sampled_from(["ASC", "DESC"]))
    return st.lists(key, max_size=2)


class QuerySuite:
    """Conformance tests of ``query`` (mixed into the state suite; needs its ``store``/``keys`` fixtures)."""

    set_returns_etag: bool = True
    """Knob: ``set`` returns the new ETag. ``False`` for a protocol that cannot carry it (Dapr's
    pluggable-component ``SetResponse`` is empty): such a ``set`` must return ``None``, and the
    suite reads the ETag back with ``get`` (its tests keep one writer per key)."""

    async def written_etag(self, store: StateStore, key: str, returned: str | None) -> str | None:
        """The ETag the write of ``key`` that returned ``returned`` left (knob ``set_returns_etag``)."""
        if self.set_returns_etag or "ETAG" not in {str(f) for f in store.features}:
            return returned
        assert returned is None, f"set returned {returned!r} though it cannot know the new ETag"
        return (await store.get(key)).etag

    query_examples: int = 25
    """Hypothesis examples of the property test."""
    query_page_limit: int = 6
    """Page size of the paging tests."""

    async def _write(self, store: StateStore, keys: Keys, docs: dict[str, Any]) -> dict[str, str]:
        """Write ``suffix -> document`` items; return ``suffix -> key``."""
        made = {suffix: keys(suffix) for suffix in docs}
        await store.bulk_set([SetRequest(made[s], doc) for s, doc in docs.items()])
        return made

    @capability("query", "QUERY_API")
    @pytest.mark.parametrize(("filter_", "expected"), [pytest.param(f, e, id=i) for i, f, e in OPERATOR_CASES])
    async def test_query_operators(
        self, store: StateStore, keys: Keys, filter_: dict[str, Any] | None, expected: set[str]
    ) -> None:
        """Each operator, on numbers, strings, booleans, dotted paths, type mixes and missing fields."""
        run = fresh_id("q-")
        made = await self._write(store, keys, {s: _doc(run, **d) for s, d in _PRODUCTS.items()})
        result = await store.query({"filter": _scoped(run, filter_)})
        got = {item.key for item in result.results}
        want = {made[s] for s in expected}
        names = {v: k for k, v in made.items()}
        assert got == want, f"filter {filter_}: got {sorted(names.get(k, k) for k in got)}, want {sorted(expected)}"
        assert result.token is None, "a query without a page limit returned a page token"
        for item in result.results:
            assert item.json() == _doc(run, **_PRODUCTS[names[item.key]]), f"{item.key}: value differs"

    @capability("query", "QUERY_API")
    async def test_query_returns_etags_and_skips_non_json(self, store: StateStore, keys: Keys) -> None:
        """Results carry the item's ETag; values that are not JSON (even if they hold JSON, or are JSON but
        for one byte that is not UTF-8) never match."""
        run = fresh_id("q-")
        key = keys("j")
        etag = await self.written_etag(store, key, await store.set(key, {"run": run, "v": 1}))
        inner = orjson.dumps({"run": run, "v": 2})
        await store.set(keys("truncated"), inner[:-1])
        await store.set(keys("garbage-first"), b"\xff" + inner)
        await store.set(keys("trailing"), inner + b"}")
        await store.set(keys("not-utf8"), inner[:-1] + b', "x": "\xff"}')  # JSON but for one byte: not UTF-8
        result = await store.query({"filter": {"EQ": {"run": run}}})
        assert [i.key for i in result.results] == [key], "a value that is not JSON was returned"
        if "ETAG" in {str(f) for f in store.features}:
            assert result.results[0].etag == etag, "query result does not carry the item's ETag"

    @capability("query", "QUERY_API")
    async def test_query_sort_orders_types_and_breaks_ties_by_key(self, store: StateStore, keys: Keys) -> None:
        """ASC and DESC over every JSON type (missing < null < bool < number < string < array < object);
        equal values in key order; several sort keys."""
        run = fresh_id("q-")
        docs = {s: _doc(run, v=v, grp=i % 2) for i, (s, v) in enumerate(_SORT_VALUES)}
        docs["t1"] = _doc(run, v=1, grp=0)  # ties with s06 (v=1), sorts after it by key
        made = await self._write(store, keys, docs)
        names = {v: k for k, v in made.items()}

        async def order(sort: list[dict[str, str]]) -> list[str]:
            result = await store.query({"filter": {"EQ": {"run": run}}, "sort": sort})
            return [names[i.key] for i in result.results]

        ascending = [s for s, _ in _SORT_VALUES]
        ascending.insert(ascending.index("s06") + 1, "t1")
        assert await order([{"key": "v"}]) == ascending
        assert await order([{"key": "v", "order": "ASC"}]) == ascending
        descending = [s for s, _ in reversed(_SORT_VALUES)]
        descending.insert(descending.index("s06") + 1, "t1")  # ties stay in key order under DESC
        # Arrays and objects tie with each other within their type: none here, so order is exact.
        assert await order([{"key": "v", "order": "DESC"}]) == descending
        by_group = sorted(docs, key=lambda s: (docs[s]["grp"], s))
        assert await order([{"key": "grp"}]) == by_group, "ties are not broken by key"
        two = [s for s in descending if docs[s]["grp"] == 1] + [s for s in descending if docs[s]["grp"] == 0]
        assert await order([{"key": "grp", "order": "DESC"}, {"key": "v", "order": "DESC"}]) == two
        assert await order([{"key": "v"}]) == await order([{"key": "v"}]), "the same query gave another order"

    @capability("query", "QUERY_API")
    async def test_query_pages_cover_everything_once(self, store: StateStore, keys: Keys) -> None:
        """Paging (with and without sort) returns every match exactly once, then a ``None`` token."""
        run = fresh_id("q-")
        made = await self._write(store, keys, {f"p{i:02d}": _doc(run, n=i % 7, odd=i % 2 == 1) for i in range(20)})
        limit = self.query_page_limit
        for sort in ([], [{"key": "n"}], [{"key": "n", "order": "DESC"}, {"key": "odd"}]):
            pages = await query_all(store, {"filter": {"EQ": {"run": run}}, "sort": sort, "page": {"limit": limit}})
            flat = [k for page in pages for k in page]
            assert sorted(flat) == sorted(made.values()), f"sort {sort}: pages have duplicates or gaps"
            assert all(len(p) == limit for p in pages[:-1]), f"sort {sort}: a page before the last is short"
            whole = await store.query({"filter": {"EQ": {"run": run}}, "sort": sort})
            assert flat == [i.key for i in whole.results], f"sort {sort}: paged order differs from one page"

    @capability("query", "QUERY_API")
    async def test_query_paging_while_items_are_written(self, store: StateStore, keys: Keys) -> None:
        """Items written and deleted between pages: every item that lives unchanged throughout is returned
        exactly once, no key twice, deleted ones never, and the order holds across pages."""
        run = fresh_id("q-")
        limit = self.query_page_limit
        stay = await self._write(store, keys, {f"o{i:02d}": _doc(run, n=i * 10) for i in range(24)})
        doomed = keys("doomed")
        await store.set(doomed, _doc(run, n=205))
        query: dict[str, Any] = {"filter": {"EQ": {"run": run}}, "sort": [{"key": "n"}], "page": {"limit": limit}}
        seen: list[tuple[str, Any]] = []
        token = None
        for step in range(100):
            page = {"limit": limit, **({"token": token} if token else {})}
            result = await store.query({**query, "page": page})
            seen += [(i.key, i.json()["n"]) for i in result.results]
            if result.token is None:
                break
            token = result.token
            last = seen[-1][1]
            await store.bulk_set(
                [
                    SetRequest(keys(f"before{step}"), _doc(run, n=last - 5)),
                    SetRequest(keys(f"at{step}"), _doc(run, n=last)),
                    SetRequest(keys(f"after{step}"), _doc(run, n=last + 15)),
                ]
            )
            if step == 0:
                await store.delete(doomed)
        else:
            raise AssertionError("paging never ended")
        got = [k for k, _ in seen]
        twice = sorted({k for k in got if got.count(k) > 1})
        assert not twice, f"returned more than once: {twice}"
        missing = sorted(set(stay.values()) - set(got))
        assert not missing, f"items alive throughout were skipped: {missing}"
        assert doomed not in got, "an item deleted before its page was returned"
        ns = [n for _, n in seen]
        assert ns == sorted(ns), "the order does not hold across pages"

    @capability("query", "QUERY_API")
    async def test_query_token_of_another_query_is_refused(self, store: StateStore, keys: Keys) -> None:
        """A page token only resumes the query (filter and sort) it came from."""
        run = fresh_id("q-")
        await self._write(store, keys, {f"x{i}": _doc(run, n=i) for i in range(3)})
        first = await store.query({"filter": {"EQ": {"run": run}}, "page": {"limit": 1}})
        assert first.token is not None, "a full page with more items left gave no token"
        other = {"filter": {"EQ": {"run": run}}, "sort": [{"key": "n"}], "page": {"limit": 1, "token": first.token}}
        with pytest.raises(InvalidRequestError, match=r"page\.token"):
            await store.query(other)
        with pytest.raises(InvalidRequestError, match=r"page\.token"):
            await store.query({"filter": {"EQ": {"run": run}}, "page": {"limit": 1, "token": "not-a-token"}})

    @capability("query", "QUERY_API")
    @pytest.mark.parametrize(
        ("query", "part"),
        [
            pytest.param({"filter": {"LIKE": {"a": 1}}}, "filter", id="unknown-operator"),
            pytest.param({"filter": {"EQ": {"a": 1, "b": 2}}}, "filter.EQ", id="two-fields"),
            pytest.param({"filter": {"EQ": {"a": [1]}}}, "filter.EQ.a", id="list-operand"),
            pytest.param({"filter": {"EQ": {"a": None}}}, "filter.EQ.a", id="null-operand"),
            pytest.param({"filter": {"EQ": {"a..b": 1}}}, "filter.EQ", id="empty-path-part"),
            pytest.param({"filter": {"IN": {"a": []}}}, "filter.IN.a", id="empty-in"),
            pytest.param({"filter": {"AND": [{"EQ": {"a": 1}}]}}, "filter.AND", id="and-of-one"),
            pytest.param({"filter": {"OR": [{"EQ": {"a": 1}}, {"GT": 3}]}}, "filter.OR[1].GT", id="nested-bad"),
            pytest.param({"sort": [{"key": "a", "order": "UP"}]}, "sort[0].order", id="bad-order"),
            pytest.param({"sort": {"key": "a"}}, "sort", id="sort-not-list"),
            pytest.param({"page": {"limit": 0}}, "page.limit", id="zero-limit"),
            pytest.param({"page": {"limit": "5"}}, "page.limit", id="string-limit"),
            pytest.param({"filters": {}}, "filters", id="unknown-top-level"),
            pytest.param("{not json", "text", id="not-json"),
        ],
    )
    async def test_query_malformed_is_refused_naming_the_part(self, store: StateStore, query: Any, part: str) -> None:
        """A malformed query raises InvalidRequestError naming the part that is wrong."""
        with pytest.raises(InvalidRequestError) as raised:
            await store.query(query)
        assert part in str(raised.value), f"the error does not name {part!r}: {raised.value}"

    @capability("query", "QUERY_API")
    async def test_query_agrees_with_the_reference_evaluator(self, store: StateStore, keys: Keys) -> None:
        """Random filters, sorts and page sizes (hypothesis) over documents mixing every JSON type give
        exactly the reference evaluator's items, in its order, across pages."""
        run = fresh_id("q-")
        n = len(_POOL)
        docs = {
            f"h{i:02d}": _doc(
                run,
                f=_POOL[i % n],
                g=_POOL[(i * 3 + i // n) % n],
                n=_doc(run, x=_POOL[(i * 5 + 2) % n]) if i % 4 else _POOL[(i * 7) % n],
            )
            for i in range(2 * n)
        }
        made = await self._write(store, keys, docs)
        names = {v: k for k, v in made.items()}
        loop = asyncio.get_running_loop()

        def call(coro: Coroutine[Any, Any, T]) -> T:
            return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=120)

        @settings(
            max_examples=self.query_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(filter_=_filters(), sort=_sorts(), limit=st.none() | st.integers(min_value=1, max_value=12))
        def check(filter_: dict[str, Any], sort: list[dict[str, str]], limit: int | None) -> None:
            raw: dict[str, Any] = {"filter": _scoped(run, filter_), "sort": sort}
            if limit is not None:
                raw["page"] = {"limit": limit}
            reference = parse_query({"filter": filter_, "sort": sort})
            rows = [(made[s], doc, s) for s, doc in docs.items() if reference.matches(orjson.loads(orjson.dumps(doc)))]
            want, _ = Query(reference.filter, reference.sort).page(rows)
            pages = call(query_all(store, raw))
            got = [names.get(k, k) for page in pages for k in page]
            assert got == want, f"query {orjson.dumps(raw).decode()}:\n got  {got}\n want {want}"

        await asyncio.to_thread(check)

"""The query suite fails stores that break the query contract, one planted defect each, and passes a
correct one.

Each case writes a small test module (a queryable in-memory store with one defect + the state suite)
and runs it with pytester; the named query test must fail.
"""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

HEADER = """
import orjson
from blockyard.query import MISSING, And, CompareOp, Comparison, In, Or, Query, decode_document, lookup, value_kind
from blockyard.state import QueryResult
from blockyard_conformance import StateStoreSuite
from blockyard_local.state_memory import InMemoryStateStore

class QStore(InMemoryStateStore):
    '''The in-memory store with its query split into overridable steps.'''

    type = "state.query-under-test"

    def decode(self, value):
        return decode_document(value)

    def compare(self, node, doc):
        return node.matches(doc)

    def evaluate(self, node, doc):
        if isinstance(node, And):
            return all(self.evaluate(c, doc) for c in node.filters)
        if isinstance(node, Or):
            return any(self.evaluate(c, doc) for c in node.filters)
        if isinstance(node, In):
            return any(self.compare(Comparison(CompareOp.EQ, node.field, node.path, v), doc) for v in node.values)
        return self.compare(node, doc)

    def page(self, query, rows):
        return query.page(rows)

    async def _query(self, query, metadata):
        rows = []
        for key, entry in list(self._data.items()):
            doc = self.decode(entry.value)
            if doc is not MISSING and (query.filter is None or self.evaluate(query.filter, doc)):
                rows.append((key, doc, self._item(key, entry)))
        results, token = self.page(query, rows)
        return QueryResult(results, token)
"""

SUITE = """
class TestQuery(StateStoreSuite):
    component_class = Broken
    query_examples = 40
"""

QUERY_DEFECTS = {
    "neq-matches-missing-fields": (
        """
        class Broken(QStore):
            def compare(self, node, doc):
                if node.op is CompareOp.NEQ and lookup(doc, node.path) is MISSING:
                    return True
                return node.matches(doc)
        """,
        "test_query_operators",
    ),
    "loose-equality-across-types": (
        """
        class Broken(QStore):
            def compare(self, node, doc):
                found = lookup(doc, node.path)
                if node.op is CompareOp.EQ and found is not MISSING:
                    return str(found) == str(node.value)
                return node.matches(doc)
        """,
        "test_query_operators",
    ),
    "gt-includes-equal": (
        """
        class Broken(QStore):
            def compare(self, node, doc):
                if node.op is CompareOp.GT:
                    node = Comparison(CompareOp.GTE, node.field, node.path, node.value)
                return node.matches(doc)
        """,
        "test_query_operators",
    ),
    "bool-equals-number": (  # no hand-written case has a boolean and a number in one field
        """
        class Broken(QStore):
            def compare(self, node, doc):
                found = lookup(doc, node.path)
                if node.op is CompareOp.EQ and isinstance(found, bool | int | float) and not isinstance(found, str):
                    return found == node.value
                return node.matches(doc)
        """,
        "test_query_agrees_with_the_reference_evaluator",
    ),
    "non-json-bytes-decoded-leniently": (
        """
        class Broken(QStore):
            def decode(self, value):
                text = value.decode(errors="ignore").strip("}")
                for candidate in (text, text + "}"):
                    try:
                        return orjson.loads(candidate)
                    except ValueError:
                        pass
                return MISSING
        """,
        "test_query_returns_etags_and_skips_non_json",
    ),
    "invalid-utf8-replaced-before-parsing": (
        """
        class Broken(QStore):
            def decode(self, value):
                return decode_document(value.decode(errors="replace").encode())
        """,
        "test_query_returns_etags_and_skips_non_json",
    ),
    "desc-ignored": (
        """
        class Broken(QStore):
            def page(self, query, rows):
                asc = tuple(type(s)(s.field, s.path) for s in query.sort)
                return Query(query.filter, asc, query.limit, None).page(rows)
        """,
        "test_query_sort_orders_types_and_breaks_ties_by_key",
    ),
    "ties-not-broken-by-key": (
        """
        class Broken(QStore):
            def page(self, query, rows):
                rows = sorted(rows, key=lambda r: r[0], reverse=True)
                rows = sorted(rows, key=lambda r: query._order(query._position(r[0], r[1])[0], ""))
                return [r[2] for r in rows], None
        """,
        "test_query_sort_orders_types_and_breaks_ties_by_key",
    ),
    "offset-paging": (
        """
        class Broken(QStore):
            offsets = {}

            def page(self, query, rows):
                ordered, _ = Query(query.filter, query.sort).page(rows)
                start = self.offsets.get(query.token, 0) if query.token else 0
                chosen = ordered[start : start + query.limit] if query.limit else ordered[start:]
                end = start + len(chosen)
                if end >= len(ordered):
                    return chosen, None
                last = chosen[-1]
                token = query._encode_token(*query._position(last.key, orjson.loads(last.value)))
                self.offsets[token] = end
                return chosen, token
        """,
        "test_query_paging_while_items_are_written",
    ),
    "malformed-query-answered-empty": (
        """
        from blockyard.errors import InvalidRequestError

        class Broken(QStore):
            async def query(self, query, *, metadata=None):
                try:
                    return await super().query(query, metadata=metadata)
                except InvalidRequestError:
                    return QueryResult([])
        """,
        "test_query_malformed_is_refused_naming_the_part",
    ),
    "foreign-token-restarts-the-listing": (
        """
        from blockyard.errors import InvalidRequestError

        class Broken(QStore):
            async def query(self, query, *, metadata=None):
                try:
                    return await super().query(query, metadata=metadata)
                except InvalidRequestError as exc:
                    if "page.token" not in str(exc):
                        raise
                    page = {k: v for k, v in query["page"].items() if k != "token"}
                    return await super().query({**query, "page": page}, metadata=metadata)
        """,
        "test_query_token_of_another_query_is_refused",
    ),
    "token-ignored": (
        """
        class Broken(QStore):
            def page(self, query, rows):
                return Query(query.filter, query.sort, query.limit, None).page(rows)
        """,
        "test_query_pages_cover_everything_once",
    ),
}


def run_query_suite(pytester: pytest.Pytester, body: str, test: str) -> pytest.RunResult:
    pytester.makeini(INI)
    pytester.makepyfile(test_query_case=HEADER + textwrap.dedent(body) + SUITE)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", test, "-rfEs")


@pytest.mark.parametrize("defect", sorted(QUERY_DEFECTS))
def test_query_defect_fails_the_kit(pytester: pytest.Pytester, defect: str) -> None:
    body, test = QUERY_DEFECTS[defect]
    result = run_query_suite(pytester, body, test)
    failed = [line for line in result.outlines if line.startswith(("FAILED", "ERROR"))]
    assert any(test in line for line in failed), f"{defect}: {test} did not fail:\n{result.stdout.str()[-3000:]}"


def test_correct_query_store_passes(pytester: pytest.Pytester) -> None:
    result = run_query_suite(pytester, "\nclass Broken(QStore):\n    pass\n", "test_query")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()[-4000:]
    assert outcomes.get("errors", 0) == 0, result.stdout.str()[-4000:]
    assert outcomes["passed"] >= 40

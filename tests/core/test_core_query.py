"""blockyard.query: the parsed tree, the reference evaluator, ordering and page tokens."""

from __future__ import annotations

from typing import Any

import pytest

from blockyard.errors import InvalidRequestError
from blockyard.query import (
    MISSING,
    And,
    CompareOp,
    Comparison,
    In,
    Or,
    Query,
    SortKey,
    SortOrder,
    decode_document,
    lookup,
    parse_query,
)


def test_parses_into_a_typed_tree() -> None:
    q = parse_query(
        '{"filter": {"AND": [{"EQ": {"a.b": 1}}, {"OR": [{"IN": {"c": ["x", true]}}, {"LT": {"d": 2.5}}]}]},'
        ' "sort": [{"key": "a.b", "order": "DESC"}, {"key": "c"}], "page": {"limit": 3}}'
    )
    assert q.filter == And(
        (
            Comparison(CompareOp.EQ, "a.b", ("a", "b"), 1),
            Or((In("c", ("c",), ("x", True)), Comparison(CompareOp.LT, "d", ("d",), 2.5))),
        )
    )
    assert q.sort == (SortKey("a.b", ("a", "b"), SortOrder.DESC), SortKey("c", ("c",), SortOrder.ASC))
    assert (q.limit, q.token) == (3, None)
    assert parse_query({"filter": {}}) == Query()
    assert parse_query(q) is q


@pytest.mark.parametrize(
    ("raw", "part"),
    [
        ([], "query: expected an object"),
        ({"filter": {"EQ": {"a": 1}, "GT": {"b": 1}}}, "query filter:"),
        ({"filter": {"NOT": {"a": 1}}}, "unknown operator 'NOT'"),
        ({"filter": {"IN": {"a": "x"}}}, "filter.IN.a"),
        ({"filter": {"GT": {"a": float("inf")}}}, "filter.GT.a"),
        ({"filter": {"EQ": {"": 1}}}, "filter.EQ"),
        (
            {"filter": {"AND": [{"EQ": {"a": 1}}, {"OR": [{"EQ": {"a": 1}}, {"EQ": {"b": {}}}]}]}},
            "filter.AND[1].OR[1].EQ.b",
        ),
        ({"sort": [{"key": "a", "dir": "ASC"}]}, "sort[0]: unknown field(s) dir"),
        ({"sort": [{"order": "ASC"}]}, "sort[0]"),
        ({"page": {"limit": True}}, "page.limit"),
        ({"page": {"limit": 1, "token": 5}}, "page.token"),
        ({"page": {"limit": 1, "token": "bm90LWEtdG9rZW4"}}, "page.token"),
    ],
)
def test_bad_queries_name_the_part(raw: Any, part: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        parse_query(raw)
    assert part in str(raised.value)


DOCS: dict[str, Any] = {
    "k1": {"n": 1, "s": "b", "o": {"x": True}},
    "k2": {"n": 1.5, "s": "a"},
    "k3": {"n": "1", "s": None, "o": "flat"},
    "k4": {"n": True, "o": {"x": 1}},
    "k5": {},
}


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"EQ": {"n": 1}}, {"k1"}),
        ({"NEQ": {"n": 1}}, {"k2"}),
        ({"GTE": {"n": 1}}, {"k1", "k2"}),
        ({"EQ": {"n": True}}, {"k4"}),
        ({"IN": {"n": [1, "1", True]}}, {"k1", "k3", "k4"}),
        ({"EQ": {"o.x": True}}, {"k1"}),
        ({"GT": {"o.x": 0}}, {"k4"}),
        ({"NEQ": {"s": "zzz"}}, {"k1", "k2"}),
        ({"OR": [{"EQ": {"s": "a"}}, {"EQ": {"s": "b"}}]}, {"k1", "k2"}),
        ({"AND": [{"LT": {"s": "c"}}, {"GT": {"n": 1}}]}, {"k2"}),
    ],
)
def test_reference_evaluator(filter_: dict[str, Any], expected: set[str]) -> None:
    q = parse_query({"filter": filter_})
    assert {k for k, d in DOCS.items() if q.matches(d)} == expected


def test_total_order_and_keyset_tokens() -> None:
    rows = [(k, d, k) for k, d in DOCS.items()]
    asc, _ = parse_query({"sort": [{"key": "n"}]}).page(rows)
    assert asc == ["k5", "k4", "k1", "k2", "k3"]  # missing < bool < numbers < strings
    desc, _ = parse_query({"sort": [{"key": "n", "order": "DESC"}]}).page(rows)
    assert desc == ["k3", "k2", "k1", "k4", "k5"]
    q = parse_query({"sort": [{"key": "s"}], "page": {"limit": 2}})
    first, token = q.page(rows)
    assert first == ["k4", "k5"]  # both missing: ties in key order
    assert token is not None
    second, token2 = parse_query({"sort": [{"key": "s"}], "page": {"limit": 2, "token": token}}).page(rows)
    assert second == ["k3", "k2"]
    third, token3 = parse_query({"sort": [{"key": "s"}], "page": {"limit": 2, "token": token2}}).page(rows)
    assert (third, token3) == (["k1"], None)
    with pytest.raises(InvalidRequestError, match=r"page\.token"):
        parse_query({"sort": [{"key": "n"}], "page": {"limit": 2, "token": token}})


def test_lookup_and_decode() -> None:
    assert lookup({"a": {"b": 0}}, ("a", "b")) == 0
    assert lookup({"a": [1]}, ("a", "0")) is MISSING
    assert decode_document(b'{"a":1}') == {"a": 1}
    assert decode_document(b"\xff") is MISSING
    assert decode_document(None) is MISSING

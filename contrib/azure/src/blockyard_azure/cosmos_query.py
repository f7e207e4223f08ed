"""The query filter (:mod:`blockyard.query`) as a parameterised Cosmos DB SQL condition.

Nothing from the query is ever written into the SQL text: member names and values are all
parameters (``c["value"][@p0][@p1] > @p2``). Each comparison also checks the member's type
(``IS_NUMBER``/``IS_STRING``/``IS_BOOL``) and that every step of the path is an object, so it
matches exactly when the reference evaluator does.

The condition is written as a flat OR of ANDs (disjunctive normal form) when that stays small
(:data:`MAX_DISJUNCTS`), else with parentheses where precedence needs them: emulators parse
nested parentheses in exponential time, and the flat form means the same.
"""

from __future__ import annotations

import itertools
from typing import Any

from blockyard.query import And, CompareOp, Comparison, Filter, In, Or, value_kind

__all__ = ["MAX_DISJUNCTS", "QueryText", "where_sql"]

MAX_DISJUNCTS = 64
"""Largest OR of ANDs written flat; a filter that expands further keeps its parentheses."""

_OPS = {
    CompareOp.EQ: "=",
    CompareOp.NEQ: "!=",
    CompareOp.GT: ">",
    CompareOp.GTE: ">=",
    CompareOp.LT: "<",
    CompareOp.LTE: "<=",
}
_IS = {"number": "IS_NUMBER", "string": "IS_STRING", "bool": "IS_BOOL"}

_Term = tuple[tuple[str, ...], CompareOp, Any]


class QueryText:
    """Collects the parameters of one SQL text (``@p0``, ``@p1``, ...); equal values share one."""

    def __init__(self) -> None:
        self.parameters: list[dict[str, Any]] = []
        self._names: dict[tuple[str, Any], str] = {}

    def param(self, value: Any) -> str:
        """The parameter holding ``value``; returns its name."""
        slot = (type(value).__name__, value)
        name = self._names.get(slot)
        if name is None:
            name = self._names[slot] = f"@p{len(self.parameters)}"
            self.parameters.append({"name": name, "value": value})
        return name


def _term(term: _Term, text: QueryText) -> str:
    path, op, value = term
    ref = 'c["value"]'
    checks = [f"IS_OBJECT({ref})"]
    for i, part in enumerate(path):
        ref = f"{ref}[{text.param(part)}]"
        if i < len(path) - 1:
            checks.append(f"IS_OBJECT({ref})")
    checks.append(f"{_IS[value_kind(value)]}({ref})")
    checks.append(f"{ref} {_OPS[op]} {text.param(value)}")
    return " AND ".join(checks)


def _dnf(node: Filter) -> list[list[_Term]] | None:
    """``node`` as an OR of ANDs of terms, or ``None`` when that exceeds :data:`MAX_DISJUNCTS`."""
    if isinstance(node, Comparison):
        return [[(node.path, node.op, node.value)]]
    if isinstance(node, In):
        return [[(node.path, CompareOp.EQ, v)] for v in node.values]
    parts = [_dnf(child) for child in node.filters]
    if any(p is None for p in parts):
        return None
    known = [p for p in parts if p is not None]
    if isinstance(node, Or):
        out = [conj for p in known for conj in p]
    else:
        size = 1
        for p in known:
            size *= len(p)
        if size > MAX_DISJUNCTS:
            return None
        out = [[t for conj in combo for t in conj] for combo in itertools.product(*known)]
    return out if len(out) <= MAX_DISJUNCTS else None


def _nested(node: Filter, text: QueryText, inside_and: bool) -> str:
    if isinstance(node, Comparison):
        return _term((node.path, node.op, node.value), text)
    if isinstance(node, In):
        parts = [_term((node.path, CompareOp.EQ, v), text) for v in node.values]
    elif isinstance(node, And):
        return " AND ".join(_nested(child, text, True) for child in node.filters)
    else:
        parts = [_nested(child, text, False) for child in node.filters]
    joined = " OR ".join(parts)
    return f"({joined})" if inside_and and len(parts) > 1 else joined


def where_sql(base: str, node: Filter | None, text: QueryText) -> str:
    """``base AND node`` as SQL (``base`` a flat condition without OR); parameters go into ``text``."""
    if node is None:
        return base
    dnf = _dnf(node)
    if dnf is None:
        return f"{base} AND {_nested(node, text, True)}"
    return " OR ".join(" AND ".join([base, *(_term(t, text) for t in conj)]) for conj in dnf)

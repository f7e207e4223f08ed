"""The query filter (:mod:`blockyard.query`) as an SQLite JSON1 condition, every part a bound parameter.

A field is reached through nested ``json_each`` table functions matched on each member's exact
name (no JSON path text is built, so any member name works), and a comparison holds only when the
member's JSON type matches the operand's, as the reference semantics require. The condition reads
the stored value as ``t.value``; the caller makes sure it is valid JSON text.
"""

from __future__ import annotations

from typing import Any

from blockyard.query import And, CompareOp, Comparison, Filter, In, Or, value_kind

__all__ = ["filter_sql"]

_TYPES = {"number": "('integer', 'real')", "string": "('text')", "bool": "('true', 'false')"}
_OPS = {
    CompareOp.EQ: "=",
    CompareOp.NEQ: "<>",
    CompareOp.GT: ">",
    CompareOp.GTE: ">=",
    CompareOp.LT: "<",
    CompareOp.LTE: "<=",
}


def _comparison(path: tuple[str, ...], op: CompareOp, value: Any, kind: str, params: list[Any]) -> str:
    sources, conds = [], []
    src = "t.value"
    for i, part in enumerate(path):
        sources.append(f"json_each({src}) j{i}")
        conds.append(f"j{i}.key = ?")
        params.append(part)
        src = f"CASE WHEN j{i}.type = 'object' THEN j{i}.value ELSE '{{}}' END"
    last = f"j{len(path) - 1}"
    conds.append(f"{last}.type IN {_TYPES[kind]} AND {last}.atom {_OPS[op]} ?")
    params.append(value)
    return f"EXISTS (SELECT 1 FROM {', '.join(sources)} WHERE {' AND '.join(conds)})"


def filter_sql(node: Filter, params: list[Any]) -> str:
    """The SQL condition for ``node``; its parameters are appended to ``params`` in order."""
    if isinstance(node, Comparison):
        return _comparison(node.path, node.op, node.value, node.kind, params)
    if isinstance(node, In):
        parts = [_comparison(node.path, CompareOp.EQ, v, value_kind(v), params) for v in node.values]
        return "(" + " OR ".join(parts) + ")"
    joiner = " AND " if isinstance(node, And) else " OR "
    assert isinstance(node, And | Or)
    return "(" + joiner.join(filter_sql(child, params) for child in node.filters) + ")"

"""The state query language (Dapr's), parsed once into a typed tree, with its reference semantics.

A query is a mapping (or its JSON text)::

    {"filter": {"AND": [{"EQ": {"status": "active"}}, {"GTE": {"product.value": 10}}]},
     "sort": [{"key": "product.value", "order": "DESC"}, {"key": "status"}],
     "page": {"limit": 20, "token": "<from the previous page>"}}

:func:`parse_query` turns it into a :class:`Query`; a malformed query raises
:class:`~blockyard.errors.InvalidRequestError` naming the part (``filter.AND[1].GTE``,
``sort[0].order``, ``page.limit``, ...). Every store that declares ``QUERY_API`` gets the parsed tree
and must answer exactly as the reference evaluator here does:

- The query ranges over the live items whose value is JSON; other values are never returned.
- A path (``"product.value"``) names nested object members, one per dot-separated part.
- ``EQ``, ``NEQ``, ``GT``, ``GTE``, ``LT``, ``LTE`` take a string, number or boolean. A comparison
  matches only when the path exists and holds a value of the same type (numbers compare
  numerically, strings by code point, ``false < true``); a missing field or a value of another
  type never matches, not even ``NEQ``. ``IN`` takes a non-empty list and matches when ``EQ``
  matches one of its values. ``AND`` and ``OR`` take two or more filters and nest freely. An
  empty or absent filter matches every item.
- ``sort`` orders by each key in turn (``ASC`` by default, or ``DESC``). Values of different types
  order as missing < null < booleans < numbers < strings < arrays < objects (arrays and objects
  tie among themselves); ``DESC`` reverses that key's whole order. Ties are always broken by the
  item key, ascending, so the order is total and the same on every call.
- ``page.limit`` caps a page; ``QueryResult.token`` is set when more items follow and resumes
  strictly after the last item returned (keyset paging): an item that lives unchanged throughout
  is returned exactly once while others are written. A token belongs to its filter and sort; it
  is refused with any other query.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import orjson

from blockyard.errors import InvalidRequestError

__all__ = [
    "MISSING",
    "And",
    "Comparison",
    "CompareOp",
    "Filter",
    "In",
    "Or",
    "Query",
    "Scalar",
    "SortKey",
    "SortOrder",
    "decode_document",
    "lookup",
    "parse_query",
    "value_kind",
]

Scalar: TypeAlias = str | int | float | bool
T = TypeVar("T")


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""What :func:`lookup` returns for a path that does not exist."""


class CompareOp(enum.StrEnum):
    """The comparison operators."""

    EQ = "EQ"
    NEQ = "NEQ"
    GT = "GT"
    GTE = "GTE"
    LT = "LT"
    LTE = "LTE"


_COMPARE: dict[CompareOp, Callable[[Any, Any], bool]] = {
    CompareOp.EQ: lambda a, b: bool(a == b),
    CompareOp.NEQ: lambda a, b: bool(a != b),
    CompareOp.GT: lambda a, b: bool(a > b),
    CompareOp.GTE: lambda a, b: bool(a >= b),
    CompareOp.LT: lambda a, b: bool(a < b),
    CompareOp.LTE: lambda a, b: bool(a <= b),
}

_RANK = {"missing": 0, "null": 1, "bool": 2, "number": 3, "string": 4, "array": 5, "object": 6}


def value_kind(value: Any) -> str:
    """The JSON type of a decoded value: missing, null, bool, number, string, array or object."""
    if value is MISSING:
        return "missing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def decode_document(value: bytes | None) -> Any:
    """A stored value decoded as JSON, or :data:`MISSING` when it is not JSON (never queried)."""
    if value is None:
        return MISSING
    try:
        return orjson.loads(value)
    except ValueError:
        return MISSING


def lookup(doc: Any, path: Sequence[str]) -> Any:
    """The value at ``path`` (object members) in a decoded JSON document, or :data:`MISSING`."""
    for part in path:
        if not isinstance(doc, dict) or part not in doc:
            return MISSING
        doc = doc[part]
    return doc


@dataclass(frozen=True, slots=True)
class Comparison:
    """``{op: {field: value}}``: matches when the field holds a value of the same type that compares."""

    op: CompareOp
    field: str
    path: tuple[str, ...]
    value: Scalar

    @property
    def kind(self) -> str:
        """The operand's type: ``bool``, ``number`` or ``string``."""
        return value_kind(self.value)

    def matches(self, doc: Any) -> bool:
        """The reference evaluation on one decoded JSON document."""
        found = lookup(doc, self.path)
        return value_kind(found) == self.kind and _COMPARE[self.op](found, self.value)


@dataclass(frozen=True, slots=True)
class In:
    """``{"IN": {field: [v1, v2, ...]}}``: matches when ``EQ`` matches one of the values."""

    field: str
    path: tuple[str, ...]
    values: tuple[Scalar, ...]

    def matches(self, doc: Any) -> bool:
        """The reference evaluation on one decoded JSON document."""
        found = lookup(doc, self.path)
        kind = value_kind(found)
        return any(value_kind(v) == kind and found == v for v in self.values)


@dataclass(frozen=True, slots=True)
class And:
    """``{"AND": [f1, f2, ...]}``: every filter matches."""

    filters: tuple[Filter, ...]

    def matches(self, doc: Any) -> bool:
        """The reference evaluation on one decoded JSON document."""
        return all(f.matches(doc) for f in self.filters)


@dataclass(frozen=True, slots=True)
class Or:
    """``{"OR": [f1, f2, ...]}``: at least one filter matches."""

    filters: tuple[Filter, ...]

    def matches(self, doc: Any) -> bool:
        """The reference evaluation on one decoded JSON document."""
        return any(f.matches(doc) for f in self.filters)


Filter: TypeAlias = Comparison | In | And | Or


class SortOrder(enum.StrEnum):
    """Sort direction of one key."""

    ASC = "ASC"
    DESC = "DESC"


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ``sort`` entry."""

    field: str
    path: tuple[str, ...]
    order: SortOrder = SortOrder.ASC


class _Desc:
    """Reverses the order of the wrapped value."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and bool(self.v == other.v)

    def __lt__(self, other: _Desc) -> bool:
        return bool(other.v < self.v)

    __hash__ = None  # type: ignore[assignment]


def _sort_value(value: Any) -> tuple[int, Any]:
    kind = value_kind(value)
    rank = _RANK[kind]
    return (rank, value) if kind in ("bool", "number", "string") else (rank, None)


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query. ``filter is None`` matches everything; ``limit is None`` means one page."""

    filter: Filter | None = None
    sort: tuple[SortKey, ...] = ()
    limit: int | None = None
    token: str | None = None

    def matches(self, doc: Any) -> bool:
        """The reference filter on one decoded JSON document."""
        return self.filter is None or self.filter.matches(doc)

    def _position(self, key: str, doc: Any) -> tuple[list[tuple[int, Any]], str]:
        return [_sort_value(lookup(doc, s.path)) for s in self.sort], key

    def _order(self, values: list[tuple[int, Any]], key: str) -> tuple[Any, ...]:
        keyed = [v if s.order is SortOrder.ASC else _Desc(v) for s, v in zip(self.sort, values, strict=True)]
        return (*keyed, key)

    def fingerprint(self) -> str:
        """Identifies the filter and sort a page token belongs to."""
        text = repr((self.filter, self.sort)).encode()
        return hashlib.blake2b(text, digest_size=8).hexdigest()

    def page(self, rows: Iterable[tuple[str, Any, T]]) -> tuple[list[T], str | None]:
        """Sort already-filtered ``(key, decoded value, result)`` rows and cut out this query's page.

        :raises InvalidRequestError: the token is malformed or belongs to another query.
        """
        ordered = sorted(
            ((self._order(*self._position(key, doc)), key, doc, out) for key, doc, out in rows),
            key=lambda row: row[0],
        )
        if self.token is not None:
            after = self._order(*self._decode_token(self.token))
            ordered = [row for row in ordered if after < row[0]]
        if self.limit is None or len(ordered) <= self.limit:
            return [row[3] for row in ordered], None
        chosen = ordered[: self.limit]
        _, last_key, last_doc, _ = chosen[-1]
        return [row[3] for row in chosen], self._encode_token(*self._position(last_key, last_doc))

    def _encode_token(self, values: list[tuple[int, Any]], key: str) -> str:
        raw = orjson.dumps({"q": self.fingerprint(), "v": values, "k": key})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _decode_token(self, token: str) -> tuple[list[tuple[int, Any]], str]:
        bad = InvalidRequestError("page.token: not a page token of this query (same filter and sort)")
        try:
            data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (ValueError, TypeError):
            raise bad from None
        if not isinstance(data, dict) or data.get("q") != self.fingerprint() or not isinstance(data.get("k"), str):
            raise bad
        values = data.get("v")
        if not isinstance(values, list) or len(values) != len(self.sort):
            raise bad
        out: list[tuple[int, Any]] = []
        for item in values:
            if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], int):
                raise bad
            out.append((item[0], item[1]))
        return out, data["k"]


# -- parsing -----------------------------------------------------------------------------------


def _error(part: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(f"query {part}: {message}" if part else f"query: {message}")


def _path(field: Any, part: str) -> tuple[str, ...]:
    if not isinstance(field, str) or not field:
        raise _error(part, f"a field path must be a non-empty string, got {field!r}")
    parts = tuple(field.split("."))
    if any(not p for p in parts):
        raise _error(part, f"field path {field!r} has an empty part (dot-separated object members)")
    return parts


def _scalar(value: Any, part: str) -> Scalar:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise _error(part, "expected a finite number")
        return value
    raise _error(part, f"expected a string, number or boolean, got {type(value).__name__}")


def _single(node: Any, part: str, what: str) -> tuple[str, Any]:
    if not isinstance(node, Mapping) or len(node) != 1:
        size = len(node) if isinstance(node, Mapping) else type(node).__name__
        raise _error(part, f"expected an object with exactly one {what}, got {size}")
    ((name, value),) = node.items()
    return name, value


def _filter(node: Any, part: str) -> Filter:
    op, arg = _single(node, part, "operator (EQ, NEQ, GT, GTE, LT, LTE, IN, AND, OR)")
    where = f"{part}.{op}"
    if op in ("AND", "OR"):
        if not isinstance(arg, list) or len(arg) < 2:
            raise _error(where, "expected a list of at least two filters")
        children = tuple(_filter(child, f"{where}[{i}]") for i, child in enumerate(arg))
        return And(children) if op == "AND" else Or(children)
    if op == "IN":
        field, values = _single(arg, where, "field")
        if not isinstance(values, list) or not values:
            raise _error(f"{where}.{field}", "expected a non-empty list of values")
        scalars = tuple(_scalar(v, f"{where}.{field}[{i}]") for i, v in enumerate(values))
        return In(field, _path(field, where), scalars)
    try:
        cmp = CompareOp(op)
    except ValueError:
        raise _error(part, f"unknown operator {op!r}; expected EQ, NEQ, GT, GTE, LT, LTE, IN, AND or OR") from None
    field, value = _single(arg, where, "field")
    return Comparison(cmp, field, _path(field, where), _scalar(value, f"{where}.{field}"))


def _sort(raw: Any) -> tuple[SortKey, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _error("sort", "expected a list of {key, order} objects")
    keys = []
    for i, item in enumerate(raw):
        part = f"sort[{i}]"
        if not isinstance(item, Mapping) or "key" not in item:
            raise _error(part, "expected an object with 'key' and optional 'order' (ASC or DESC)")
        extra = set(item) - {"key", "order"}
        if extra:
            raise _error(part, f"unknown field(s) {', '.join(sorted(map(str, extra)))}")
        order = item.get("order") or "ASC"
        try:
            direction = SortOrder(order)
        except ValueError:
            raise _error(f"{part}.order", f"expected ASC or DESC, got {order!r}") from None
        keys.append(SortKey(item["key"], _path(item["key"], f"{part}.key"), direction))
    return tuple(keys)


def _page(raw: Any) -> tuple[int | None, str | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, Mapping):
        raise _error("page", "expected an object with 'limit' and optional 'token'")
    extra = set(raw) - {"limit", "token"}
    if extra:
        raise _error("page", f"unknown field(s) {', '.join(sorted(map(str, extra)))}")
    limit = raw.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise _error("page.limit", f"expected a positive integer, got {limit!r}")
    token = raw.get("token") or None
    if token is not None and not isinstance(token, str):
        raise _error("page.token", "expected the string token of the previous page")
    return limit, token


def parse_query(raw: Query | Mapping[str, Any] | str | bytes) -> Query:
    """Parse a query (a mapping, or its JSON text); a :class:`Query` is returned as it is.

    :raises InvalidRequestError: naming the malformed part.
    """
    if isinstance(raw, Query):
        return raw
    if isinstance(raw, str | bytes):
        try:
            raw = orjson.loads(raw)
        except ValueError as exc:
            raise _error("text", f"not valid JSON ({exc})") from None
    if not isinstance(raw, Mapping):
        raise _error("", "expected an object with 'filter', 'sort' and 'page'")
    extra = set(raw) - {"filter", "sort", "page"}
    if extra:
        raise _error("", f"unknown field(s) {', '.join(sorted(map(str, extra)))}; expected filter, sort, page")
    node = raw.get("filter")
    filter_ = None if node is None or node == {} else _filter(node, "filter")
    limit, token = _page(raw.get("page"))
    query = Query(filter_, _sort(raw.get("sort")), limit, token)
    if token is not None:
        query._decode_token(token)
    return query

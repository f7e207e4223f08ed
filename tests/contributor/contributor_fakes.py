"""State stores that answer a malformed ETag honestly (ETagInvalidError), and one that does not."""

from __future__ import annotations

import itertools
from typing import ClassVar

from blockyard.errors import ETagInvalidError
from blockyard.state import DeleteOp, SetOp
from blockyard_local.state_memory import InMemoryStateStore, _Entry

__all__ = ["InvalidForEveryWrongEtagStore", "NumericEtagStore"]


class NumericEtagStore(InMemoryStateStore):
    """``state.in-memory`` with decimal ETags: a non-decimal ETag raises ETagInvalidError."""

    type: ClassVar[str] = "state.numeric-etag"
    _counter = itertools.count(1)

    def _entry(self, op: SetOp, now: float) -> _Entry:  # type: ignore[override]
        entry = InMemoryStateStore._entry(op, now)
        entry.etag = str(next(self._counter))
        return entry

    @staticmethod
    def _check(op: SetOp | DeleteOp, current: _Entry | None) -> None:
        if op.etag is not None and not op.etag.isdecimal():
            raise ETagInvalidError(f"ETag {op.etag!r} is not a decimal number")
        InMemoryStateStore._check(op, current)


class InvalidForEveryWrongEtagStore(NumericEtagStore):
    """Broken: calls a well-formed ETag that does not match "invalid" instead of a mismatch."""

    type: ClassVar[str] = "state.invalid-for-every-etag"

    @staticmethod
    def _check(op: SetOp | DeleteOp, current: _Entry | None) -> None:
        if op.etag is not None and (current is None or current.etag != op.etag):
            raise ETagInvalidError("the ETag is not valid here")
        NumericEtagStore._check(op, current)

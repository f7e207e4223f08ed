"""Markers that tie a suite test to a capability group and the features it needs.

``@capability("etag", "ETAG")`` puts a test in the ``etag`` column of the report matrix and
skips it (reason ``"not declared: ..."``) on a component that does not declare ``ETAG``.
Undeclared features are checked the other way by each suite's ``test_features_both_ways``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

__all__ = [
    "FEATURE_MARK",
    "GROUP_MARK",
    "NOT_DECLARED",
    "NOT_RUN",
    "capability",
    "group_of",
]

FEATURE_MARK = "blockyard_feature"
GROUP_MARK = "blockyard_group"
NOT_DECLARED = "not declared: "
"""Prefix of the skip reason of a test whose feature the component does not declare."""
NOT_RUN = "not run: "
"""Prefix of the skip reason of a test whose backend or component cannot be had here."""

F = TypeVar("F", bound=Callable[..., Any])


def capability(group: str, *features: str) -> Callable[[F], F]:
    """Mark a test as part of ``group``, needing every one of ``features`` (names)."""

    def apply(fn: F) -> F:
        fn = getattr(pytest.mark, GROUP_MARK)(group)(fn)
        if features:
            fn = getattr(pytest.mark, FEATURE_MARK)(*features)(fn)
        return fn

    return apply


def group_of(item: pytest.Item, default: str = "core") -> str:
    """The capability group of a collected test."""
    mark = item.get_closest_marker(GROUP_MARK)
    return str(mark.args[0]) if mark is not None and mark.args else default

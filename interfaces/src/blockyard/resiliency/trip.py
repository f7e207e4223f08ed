"""A circuit breaker's ``trip`` condition: the subset of Dapr's CEL expressions over the breaker's counts.

Grammar: comparisons ``<count> <op> <integer>`` joined by ``&&`` and ``||`` (``&&`` binds
tighter), where ``<count>`` is one of ``requests``, ``totalSuccesses``, ``totalFailures``,
``consecutiveSuccesses``, ``consecutiveFailures`` and ``<op>`` one of ``>= > == != <= <``.
Anything else is refused with the grammar in the message. Examples: ``consecutiveFailures >= 5``,
``requests > 10 && totalFailures > 5``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["COUNTS", "Counts", "TripCondition", "parse_trip"]

COUNTS = ("requests", "totalSuccesses", "totalFailures", "consecutiveSuccesses", "consecutiveFailures")
_OPS: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    "<": operator.lt,
}
_TERM = re.compile(r"\s*([A-Za-z]+)\s*(>=|<=|==|!=|>|<)\s*(\d{1,9})\s*")
_GRAMMAR = f"expected comparisons such as 'consecutiveFailures >= 5' joined by && or ||, over {', '.join(COUNTS)}"


@dataclass(slots=True)
class Counts:
    """What a circuit breaker has seen since its counts were last cleared."""

    requests: int = 0
    total_successes: int = 0
    total_failures: int = 0
    consecutive_successes: int = 0
    consecutive_failures: int = 0

    def value(self, name: str) -> int:
        """The count called ``name`` in Dapr's spelling (``consecutiveFailures``)."""
        return {
            "requests": self.requests,
            "totalSuccesses": self.total_successes,
            "totalFailures": self.total_failures,
            "consecutiveSuccesses": self.consecutive_successes,
            "consecutiveFailures": self.consecutive_failures,
        }[name]


@dataclass(frozen=True, slots=True)
class TripCondition:
    """A parsed ``trip`` expression: any of its ``alternatives`` holding (each an all-of of comparisons)."""

    text: str
    alternatives: tuple[tuple[tuple[str, str, int], ...], ...]

    def __call__(self, counts: Counts) -> bool:
        """True when the breaker should open."""
        return any(all(_OPS[op](counts.value(name), n) for name, op, n in terms) for terms in self.alternatives)

    def __str__(self) -> str:
        return self.text


def parse_trip(text: str) -> TripCondition:
    """Parse a ``trip`` expression.

    :raises ValueError: naming the grammar (and the unknown count, if that is the fault).
    """
    alternatives = []
    for alternative in text.split("||"):
        terms = []
        for term in alternative.split("&&"):
            m = _TERM.fullmatch(term)
            if m is None:
                raise ValueError(_GRAMMAR)
            name, op, number = m.groups()
            if name not in COUNTS:
                raise ValueError(f"unknown count {name!r}; {_GRAMMAR}")
            terms.append((name, op, int(number)))
        alternatives.append(tuple(terms))
    return TripCondition(text.strip(), tuple(alternatives))

"""Exact delivery accounting for the reliability scenarios, and their figures for the report.

A :class:`Ledger` records every confirmed publish and every delivery of one scenario (message,
consumer, attempt, time) and computes loss, duplicates, strays and publish → handle latency from
that log alone. A ledger never asserts "nothing delivered" by itself: a scenario states what it
expects by calling :meth:`Ledger.assert_exact` (or reading :meth:`Ledger.figures`).

Sizes: the scenarios' message counts are knobs whose defaults come from
``BLOCKYARD_RELIABILITY_MESSAGES`` (quick runs: small; ``make reliability`` sets 10,000).
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

from blockyard_conformance.support import Inbox

__all__ = ["RELIABILITY_PROPERTY", "Delivery", "Ledger", "reliability_size"]

RELIABILITY_PROPERTY = "blockyard_reliability"
"""The ``user_properties`` key under which a scenario's figures reach the report."""

SIZE_ENV = "BLOCKYARD_RELIABILITY_MESSAGES"


def reliability_size(default: int) -> int:
    """The scenario size: ``BLOCKYARD_RELIABILITY_MESSAGES`` when set (a positive integer), else ``default``.

    :raises ValueError: naming the variable when it is set to anything but a positive integer.
    """
    text = os.environ.get(SIZE_ENV, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"{SIZE_ENV} must be a positive integer, got {text!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One call of a handler with one message."""

    seq: int
    at: float
    consumer: str = ""
    attempt: int | None = None
    """The delivery count the component exposed (``None`` when it exposes none)."""


class Ledger(Inbox):
    """Every confirmed publish and every delivery of one scenario; waiters wake on each delivery."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_at: dict[int, float] = {}
        self.deliveries: list[Delivery] = []
        self.counts: dict[int, int] = {}

    def sent(self, seq: int, at: float | None = None) -> None:
        """Record that message ``seq`` was confirmed by the broker (its publish returned)."""
        self.sent_at[seq] = time.monotonic() if at is None else at

    def delivered(self, seq: int, *, consumer: str = "", attempt: int | None = None) -> None:
        """Record one delivery of ``seq`` and wake the waiters."""
        self.deliveries.append(Delivery(seq, time.monotonic(), consumer, attempt))
        self.counts[seq] = self.counts.get(seq, 0) + 1
        self.notify()

    def all_delivered(self) -> bool:
        """True once every confirmed message was delivered at least once."""
        return all(seq in self.counts for seq in self.sent_at)

    async def wait_all_delivered(self, *, within: float, what: str) -> None:
        """Return once every confirmed message was delivered at least once.

        :raises AssertionError: naming ``what``, the messages still missing then and how many.
        """
        try:
            await self.wait_for(self.all_delivered, within=within, what=what)
        except AssertionError:
            lost = self.lost
            raise AssertionError(
                f"timed out after {within:g}s waiting for {what} (missing {len(lost)}, e.g. {lost[:10]})"
            ) from None

    @property
    def lost(self) -> list[int]:
        """Confirmed messages never delivered, sorted."""
        return sorted(seq for seq in self.sent_at if seq not in self.counts)

    @property
    def duplicated(self) -> int:
        """Deliveries beyond the first, over all messages."""
        return sum(n - 1 for n in self.counts.values() if n > 1)

    @property
    def strays(self) -> list[int]:
        """Delivered messages that were never confirmed (an ambiguous publish, or a foreign message)."""
        return sorted(seq for seq in self.counts if seq not in self.sent_at)

    def latencies_ms(self) -> list[float]:
        """Publish → first handling of each confirmed and delivered message, in milliseconds."""
        first: dict[int, float] = {}
        for d in self.deliveries:
            first.setdefault(d.seq, d.at)
        return [max(0.0, (first[s] - t) * 1000) for s, t in self.sent_at.items() if s in first]

    def figures(self) -> dict[str, Any]:
        """``sent``, ``delivered`` (distinct), ``deliveries``, ``duplicated``, ``lost``, ``strays``,
        ``p50_ms`` and ``p99_ms`` (``None`` without deliveries)."""
        lat = sorted(self.latencies_ms())
        return {
            "sent": len(self.sent_at),
            "delivered": sum(1 for s in self.counts if s in self.sent_at),
            "deliveries": len(self.deliveries),
            "duplicated": self.duplicated,
            "lost": len(self.lost),
            "strays": len(self.strays),
            "p50_ms": round(statistics.median(lat), 2) if lat else None,
            "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2) if lat else None,
        }

    def assert_exact(self, *, max_duplicates: int = 0) -> None:
        """Every confirmed message delivered, at most ``max_duplicates`` extra deliveries in all.

        :raises AssertionError: naming the first lost messages, or the duplicate count and bound.
        """
        lost = self.lost
        assert not lost, f"{len(lost)} confirmed message(s) never delivered, e.g. {lost[:10]}"
        dup = self.duplicated
        assert dup <= max_duplicates, f"{dup} duplicate deliveries, more than the {max_duplicates} allowed"

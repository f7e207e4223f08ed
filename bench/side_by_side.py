"""Side-by-side rounds shared by the benchmarks: the same work through the raw client and Blockyard.

A benchmark writes one *round* per side (an async function returning a :class:`Round`), usually
with :func:`run_ops`; :func:`compare` warms both up, alternates them so drift on the machine hits
both alike, and returns the medians. The ratio is the median of the per-round ratios: each pairs
two rounds run back to back, so load that changes during a run cancels out of it. Which side of a
pair runs first alternates too: what one round leaves behind for the next (a backend flushing the
writes it was just sent, a garbage collection) falls on each side equally often.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Comparison", "Op", "Round", "Stopwatch", "compare", "run_ops"]

Op = Callable[[int], Awaitable[object]]
"""One operation; its argument tells the calls apart (see :func:`run_ops`)."""


@dataclass(frozen=True, slots=True)
class Round:
    """One timed round: operations per second, and this process's CPU seconds per operation."""

    rate: float
    cpu_per_op: float


class Stopwatch:
    """Wall-clock and process CPU time since creation."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def round(self, ops: int) -> Round:
        """The round that did ``ops`` operations since this stopwatch started."""
        return Round(ops / (time.perf_counter() - self._wall), (time.process_time() - self._cpu) / ops)


async def run_ops(op: Op, total: int, concurrency: int, *, own_key: bool = False) -> Round:
    """About ``total`` calls of ``op`` by ``concurrency`` callers, each making ``total // concurrency``.

    Caller ``c``'s ``i``-th call passes ``c * (total // concurrency) + i``, so every call gets its
    own number; with ``own_key`` it passes ``c``, for operations where each caller must keep to its
    own key (a read-modify-write chain). The rate counts the calls made.
    """
    per = max(1, total // concurrency)

    async def caller(c: int) -> None:
        for i in range(per):
            await op(c if own_key else c * per + i)

    watch = Stopwatch()
    await asyncio.gather(*(caller(c) for c in range(concurrency)))
    return watch.round(per * concurrency)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Medians over the rounds of one scenario."""

    raw: float
    """raw client, operations per second"""
    blockyard: float
    """Blockyard, operations per second"""
    ratio: float
    """median of the per-round ``blockyard / raw`` (higher is better for Blockyard)"""
    raw_cpu: float
    """raw client, this process's CPU seconds per operation"""
    blockyard_cpu: float
    """Blockyard, this process's CPU seconds per operation"""


async def compare(
    rounds: int, raw: Callable[[], Awaitable[Round]], blockyard: Callable[[], Awaitable[Round]]
) -> Comparison:
    """One warm-up round each, then ``rounds`` pairs, raw first in every other one; their medians."""
    await raw()
    await blockyard()
    pairs = [await _pair(raw, blockyard, raw_first=n % 2 == 0) for n in range(rounds)]
    return Comparison(
        raw=statistics.median(r.rate for r, _ in pairs),
        blockyard=statistics.median(b.rate for _, b in pairs),
        ratio=statistics.median(b.rate / r.rate for r, b in pairs),
        raw_cpu=statistics.median(r.cpu_per_op for r, _ in pairs),
        blockyard_cpu=statistics.median(b.cpu_per_op for _, b in pairs),
    )


async def _pair(
    raw: Callable[[], Awaitable[Round]], blockyard: Callable[[], Awaitable[Round]], *, raw_first: bool
) -> tuple[Round, Round]:
    if raw_first:
        return await raw(), await blockyard()
    ours = await blockyard()
    return await raw(), ours

"""The circuit breaker: Dapr's (sony/gobreaker's) three states, for one target and direction.

- **closed**: calls pass; each outcome updates the :class:`~blockyard.resiliency.trip.Counts`
  (cleared every ``interval`` when that is above zero); when ``trip`` holds after a failure the
  breaker opens.
- **open**: every call fails fast with :class:`~blockyard.errors.CircuitOpenError` without reaching
  the backend, until ``timeout`` has passed; then the breaker is half-open.
- **half-open**: at most ``maxRequests`` calls pass; a failure opens the breaker again,
  ``maxRequests`` consecutive successes close it.

Only *failures* count as such: errors :func:`~blockyard.errors.is_retryable` says are transient
(an unreachable or hung backend). A wrong ETag or a missing secret is an answer, not an outage,
and counts as a success. The breaker is a small typed class rather than a library: the
asyncio breakers on PyPI (``aiobreaker``, unmaintained since 2021; ``purgatory``) have neither
Dapr's trip expressions over the counts nor its ``maxRequests`` / ``interval`` semantics.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from blockyard.errors import CircuitOpenError
from blockyard.metadata import format_duration
from blockyard.resiliency.model import CircuitBreakerSpec
from blockyard.resiliency.trip import Counts

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(enum.StrEnum):
    """A circuit breaker's state."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """One breaker; ``name`` is the policy's name, used in errors. Not thread-safe (one event loop).

    ``clock`` (monotonic seconds) is replaceable for tests.
    """

    def __init__(self, name: str, spec: CircuitBreakerSpec, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.spec = spec
        self.counts = Counts()
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._cleared_at = clock()
        self.times_opened = 0

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose timeout has passed reads as half-open)."""
        self._advance()
        return self._state

    def admit(self, component: str, operation: str) -> None:
        """Let one call through, or refuse it.

        :raises CircuitOpenError: the breaker is open, or half-open with ``maxRequests`` calls in flight.
        """
        self._advance()
        if self._state is BreakerState.OPEN:
            left = self.spec.timeout.total_seconds() - (self._clock() - self._opened_at)
            raise CircuitOpenError(
                f"circuit breaker {self.name!r} is open (it trips on {self.spec.trip}); "
                f"calls fail fast for another {left:.1f}s",
                component=component,
                operation=operation,
            )
        if self._state is BreakerState.HALF_OPEN and self.counts.requests >= self.spec.max_requests:
            raise CircuitOpenError(
                f"circuit breaker {self.name!r} is half-open and already testing the backend with "
                f"{self.spec.max_requests} call(s) (maxRequests)",
                component=component,
                operation=operation,
            )
        self.counts.requests += 1

    def record(self, success: bool) -> None:
        """Count the outcome of an admitted call; may open or close the breaker."""
        c = self.counts
        if success:
            c.total_successes += 1
            c.consecutive_successes += 1
            c.consecutive_failures = 0
            if self._state is BreakerState.HALF_OPEN and c.consecutive_successes >= self.spec.max_requests:
                self._to(BreakerState.CLOSED)
            return
        c.total_failures += 1
        c.consecutive_failures += 1
        c.consecutive_successes = 0
        if self._state is BreakerState.HALF_OPEN or self.spec.trip(c):
            self._to(BreakerState.OPEN)

    def release(self) -> None:
        """Forget an admitted call that ended without an outcome (it was cancelled)."""
        self.counts.requests = max(self.counts.requests - 1, 0)

    def _advance(self) -> None:
        now = self._clock()
        if self._state is BreakerState.OPEN and now - self._opened_at >= self.spec.timeout.total_seconds():
            self._to(BreakerState.HALF_OPEN)
        interval = self.spec.interval.total_seconds()
        if self._state is BreakerState.CLOSED and interval > 0 and now - self._cleared_at >= interval:
            self.counts = Counts()
            self._cleared_at = now

    def _to(self, state: BreakerState) -> None:
        self._state = state
        self.counts = Counts()
        self._cleared_at = self._clock()
        if state is BreakerState.OPEN:
            self._opened_at = self._cleared_at
            self.times_opened += 1

    def __repr__(self) -> str:
        return (
            f"<CircuitBreaker {self.name!r} {self.state} trip={str(self.spec.trip)!r} "
            f"timeout={format_duration(self.spec.timeout)}>"
        )

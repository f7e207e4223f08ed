"""Running one call under a target's policies: a timeout per attempt, retries around the attempts
(tenacity), a circuit breaker in front of each attempt — Dapr's order.

- The **timeout** bounds each attempt; an attempt that outlasts it is cancelled and fails with a
  retryable :class:`~blockyard.errors.BackendUnavailableError`.
- The **retry** policy tries again only errors :func:`~blockyard.errors.is_retryable` calls transient
  (and, for handler deliveries, a handler failure); never a :class:`~blockyard.errors.CircuitOpenError`
  (an open breaker means *stop calling*, as in Dapr). ``constant`` waits ``duration`` between tries;
  ``exponential`` waits 500 ms growing 1.5-fold with up to 250 ms jitter, capped at ``maxInterval``.
  ``maxRetries: -1`` retries without limit; once the retries are spent the last error is raised.
- The **circuit breaker** (:mod:`~blockyard.resiliency.breaker`) admits or refuses each attempt and
  counts its outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    stop_never,
    wait_exponential_jitter,
    wait_fixed,
)

from blockyard.errors import BackendUnavailableError, CircuitOpenError, is_retryable
from blockyard.metadata import format_duration
from blockyard.resiliency.breaker import CircuitBreaker
from blockyard.resiliency.model import RetrySpec

__all__ = ["NamedRetry", "NamedTimeout", "Policy"]

_T = TypeVar("_T")

#: Dapr's exponential back-off: the first wait and its growth per retry.
EXPONENTIAL_INITIAL = 0.5
EXPONENTIAL_BASE = 1.5
EXPONENTIAL_JITTER = 0.25


@dataclass(frozen=True, slots=True)
class NamedTimeout:
    """A timeout policy: its name (for errors) and duration."""

    name: str
    duration: timedelta


@dataclass(frozen=True, slots=True)
class NamedRetry:
    """A retry policy: its name and spec."""

    name: str
    spec: RetrySpec


@dataclass(slots=True)
class Policy:
    """The policies of one target and direction (any of them may be ``None``).

    ``retry_on`` decides which errors are retried and counted by the breaker as failures.
    """

    timeout: NamedTimeout | None = None
    retry: NamedRetry | None = None
    breaker: CircuitBreaker | None = None
    retry_on: Callable[[BaseException], bool] = is_retryable

    def __bool__(self) -> bool:
        return self.timeout is not None or self.retry is not None or self.breaker is not None

    async def run(
        self,
        component: str,
        operation: str,
        call: Callable[[], Awaitable[_T]],
        *,
        failed: Callable[[_T], bool] | None = None,
    ) -> _T:
        """Await ``call()`` under the policies; ``failed(result)`` marks a result as a failure to retry
        (a handler's ``RETRY``), which is returned as is once the retries are spent.

        :raises BlockyardError: the last attempt's error; :class:`CircuitOpenError` while the breaker is open.
        """
        if self.retry is None:
            return await self._attempt(component, operation, call, failed)
        retry_on = self.retry_on

        def should_retry(exc: BaseException) -> bool:
            return retry_on(exc) and not isinstance(exc, CircuitOpenError)

        # The first attempt runs bare, so a call that succeeds pays nothing for the retry machinery;
        # a retryable failure is replayed to tenacity as its first attempt, which then waits and retries.
        pending: list[_T | BaseException] = []
        try:
            result = await self._attempt(component, operation, call, failed)
        except Exception as exc:
            if not should_retry(exc):
                raise
            pending.append(exc)
        else:
            if failed is None or not failed(result):
                return result
            pending.append(result)

        async def attempt() -> _T:
            if pending:
                outcome = pending.pop()
                if isinstance(outcome, BaseException):
                    raise outcome
                return outcome  # type: ignore[return-value]  # a failed result (_T), replayed
            return await self._attempt(component, operation, call, failed)

        condition: Any = retry_if_exception(should_retry)
        if failed is not None:
            condition = condition | retry_if_result(failed)
        retrying = AsyncRetrying(stop=self._stop(), wait=self._wait(), retry=condition, reraise=True)
        try:
            return await retrying(attempt)
        except RetryError as exc:  # the retries are spent on a failed *result*: hand it back
            return exc.last_attempt.result()  # type: ignore[no-any-return]

    def _stop(self) -> Any:
        assert self.retry is not None
        limit = self.retry.spec.max_retries
        return stop_never if limit < 0 else stop_after_attempt(limit + 1)

    def _wait(self) -> Any:
        assert self.retry is not None
        spec = self.retry.spec
        if spec.policy == "constant":
            return wait_fixed(spec.duration.total_seconds())
        return wait_exponential_jitter(
            initial=EXPONENTIAL_INITIAL,
            exp_base=EXPONENTIAL_BASE,
            max=spec.max_interval.total_seconds(),
            jitter=EXPONENTIAL_JITTER,
        )

    async def _attempt(
        self,
        component: str,
        operation: str,
        call: Callable[[], Awaitable[_T]],
        failed: Callable[[_T], bool] | None,
    ) -> _T:
        breaker = self.breaker
        if breaker is not None:
            breaker.admit(component, operation)
        try:
            if self.timeout is None:
                result = await call()
            else:
                result = await self._bounded(component, operation, call, self.timeout)
        except Exception as exc:
            if breaker is not None:
                breaker.record(not self.retry_on(exc))
            raise
        except BaseException:
            if breaker is not None:
                breaker.release()
            raise
        if breaker is not None:
            breaker.record(failed is None or not failed(result))
        return result

    @staticmethod
    async def _bounded(component: str, operation: str, call: Callable[[], Awaitable[_T]], bound: NamedTimeout) -> _T:
        scope = asyncio.timeout(bound.duration.total_seconds())
        try:
            async with scope:
                return await call()
        except TimeoutError:
            if not scope.expired():
                raise
        raise BackendUnavailableError(
            f"no answer within {format_duration(bound.duration)} (resiliency timeout {bound.name!r})",
            component=component,
            operation=operation,
        )

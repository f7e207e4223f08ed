"""Subscription handles and handler results, shared by pub/sub and input bindings."""

from __future__ import annotations

import abc
import asyncio
import enum
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from blockyard.component import Component

__all__ = ["HandlerResult", "Stopper", "Subscription", "coerce_result", "guard"]

_In = TypeVar("_In")
_Out = TypeVar("_Out")


class HandlerResult(enum.StrEnum):
    """What a handler asks the component to do with a message.

    A handler that returns ``None`` succeeded; one that raises asked for ``RETRY``.
    """

    SUCCESS = "success"
    """Processed: acknowledge it."""
    RETRY = "retry"
    """Not processed: deliver it again later (components that declare ``REDELIVERY``)."""
    DROP = "drop"
    """Do not process and do not deliver again: acknowledge and discard it."""


Stopper = Callable[[], Awaitable[None]]
"""What a plugin returns from ``_subscribe``/``_read``: stops delivery when awaited."""


class _Owner(Protocol):
    def _forget(self, sub: Subscription) -> None: ...


class Subscription:
    """A running subscription (or input-binding reader).

    ``subscribe()`` returns it as soon as delivery is set up; messages arrive on background tasks
    until :meth:`cancel`. Cancelling one subscription leaves the others running. After ``cancel()``
    returns, its handler is not called again; a message whose handler was interrupted is not
    acknowledged (so a component with ``REDELIVERY`` delivers it again).
    """

    __slots__ = ("_cancelled", "_lock", "_owner", "_stopper", "consumer_group", "topic")

    def __init__(self, topic: str, consumer_group: str | None, stopper: Stopper, owner: _Owner) -> None:
        self.topic = topic
        self.consumer_group = consumer_group
        self._stopper = stopper
        self._owner = owner
        self._cancelled = False
        self._lock = asyncio.Lock()

    @property
    def active(self) -> bool:
        """True until :meth:`cancel` is called (or the component closes)."""
        return not self._cancelled

    async def cancel(self) -> None:
        """Stop delivery. Idempotent."""
        async with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            try:
                await self._stopper()
            finally:
                self._owner._forget(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.cancel()

    def __repr__(self) -> str:
        state = "active" if self.active else "cancelled"
        return f"<Subscription topic={self.topic!r} group={self.consumer_group!r} {state}>"


class SubscriptionOwner(Component, abc.ABC):
    """Base of the components that hand out subscriptions (pub/sub, input bindings).

    ``close()`` cancels every subscription still running, then closes the component.
    """

    async def close(self) -> None:
        """Cancel every subscription, then release resources. Idempotent."""
        if not self.closed:
            await self._cancel_all()
        await super().close()

    @property
    def _subscriptions(self) -> set[Subscription]:
        subs: set[Subscription] = self.__dict__.setdefault("_active_subscriptions", set())
        return subs

    def _track(self, sub: Subscription) -> Subscription:
        self._subscriptions.add(sub)
        return sub

    def _forget(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)

    async def _cancel_all(self) -> None:
        subs = list(self._subscriptions)
        if subs:
            await asyncio.gather(*(s.cancel() for s in subs), return_exceptions=True)


def coerce_result(value: Any) -> HandlerResult:
    """Turn a handler's return value into a :class:`HandlerResult` (``None`` is success)."""
    if value is None:
        return HandlerResult.SUCCESS
    if isinstance(value, HandlerResult):
        return value
    try:
        return HandlerResult(value)
    except ValueError:
        raise TypeError(f"a handler must return None or a HandlerResult, not {value!r}") from None


def guard(
    handler: Callable[[_In], Awaitable[Any]],
    convert: Callable[[_In, Any], _Out],
    failed: Callable[[_In, Exception], _Out],
) -> Callable[[_In], Awaitable[_Out]]:
    """Wrap a user's handler so that delivery never fails: the one way handlers are run.

    The wrapper returns ``convert(arg, <handler's result>)``; when the handler (or ``convert``)
    raises, it returns ``failed(arg, exc)`` instead. Cancellation propagates.
    """

    async def run(arg: _In) -> _Out:
        try:
            return convert(arg, await handler(arg))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return failed(arg, exc)

    return run

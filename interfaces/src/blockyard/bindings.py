"""The bindings contract: output bindings are invoked, input bindings deliver events.

- :class:`OutputBinding` declares its ``operations`` (``create``, ``get``, ``list``, ``delete``,
  or its own such as ``increment``); ``invoke(operation, data, metadata=...)`` runs one and returns
  a :class:`BindingResponse`. An undeclared operation raises
  :class:`~blockyard.errors.NotSupportedError` naming the supported ones.
- Data: bytes are kept, ``str`` is UTF-8 encoded, anything else is JSON-encoded.
- :class:`InputBinding` ``read(handler)`` returns a :class:`~blockyard.subscription.Subscription`
  promptly and calls ``handler(event)`` for each event until cancelled. A handler that raises (or
  returns :attr:`HandlerResult.RETRY`) did not process the event; brokers then redeliver it.
- A class may be both (``class RabbitMQBinding(InputBinding, OutputBinding)``).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from blockyard.component import Component, ComponentKind
from blockyard.errors import InvalidRequestError, NotSupportedError
from blockyard.subscription import HandlerResult, Stopper, Subscription, SubscriptionOwner, coerce_result, guard
from blockyard.values import decode_json, encode_value

__all__ = [
    "BindingEvent",
    "BindingResponse",
    "InputBinding",
    "InputHandler",
    "InvokeRequest",
    "OutputBinding",
]


@dataclass(slots=True)
class InvokeRequest:
    """A validated invocation as a plugin receives it; ``operation`` is lower-case."""

    operation: str
    data: bytes | None
    metadata: Mapping[str, str]


@dataclass(slots=True)
class BindingResponse:
    """The result of ``invoke``; ``data is None`` when the operation returns nothing."""

    data: bytes | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None

    def json(self) -> Any:
        """The data decoded as JSON (``None`` when there is none)."""
        return decode_json(self.data)


@dataclass(slots=True)
class BindingEvent:
    """One event delivered by an input binding."""

    data: bytes | None
    metadata: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    id: str | None = None

    def json(self) -> Any:
        """The data decoded as JSON."""
        return decode_json(self.data)


InputHandler = Callable[[BindingEvent], Awaitable[HandlerResult | None]]
DeliverEvent = Callable[[BindingEvent], Awaitable[HandlerResult]]

_EMPTY: Mapping[str, str] = {}


def encode_binding_data(data: Any, *, component: str, operation: str) -> bytes | None:
    """Bytes kept, ``str`` UTF-8, ``None`` kept, anything else JSON."""
    if data is None or isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    return encode_value(data, key=operation, component=component)


class OutputBinding(Component, abc.ABC):
    """A binding the application invokes."""

    kind: ClassVar[ComponentKind] = ComponentKind.BINDINGS
    #: The operations this binding supports, lower-case.
    operations: ClassVar[frozenset[str]] = frozenset()

    async def invoke(
        self, operation: str, data: Any = None, *, metadata: Mapping[str, str] | None = None
    ) -> BindingResponse:
        """Run ``operation``.

        :raises NotSupportedError: for an operation this binding does not declare.
        :raises InvalidRequestError: for missing or bad request metadata (the binding's own rules).
        """
        self._check_ready("invoke")
        if not isinstance(operation, str) or not operation:
            raise InvalidRequestError("operation must be a non-empty string", component=self.name)
        op = operation.lower()
        if op not in self.operations:
            raise NotSupportedError(
                f"operation {operation!r} is not supported; supported: {', '.join(sorted(self.operations))}",
                component=self.name,
                operation=operation,
            )
        req = InvokeRequest(op, encode_binding_data(data, component=self.name, operation=op), metadata or _EMPTY)
        return await self._call_hook(op, None, self._invoke(req))

    @abc.abstractmethod
    async def _invoke(self, req: InvokeRequest) -> BindingResponse:
        """Run one declared operation."""


class InputBinding(SubscriptionOwner, abc.ABC):
    """A binding that delivers events to a handler."""

    kind: ClassVar[ComponentKind] = ComponentKind.BINDINGS

    async def read(self, handler: InputHandler) -> Subscription:
        """Start delivering events to ``handler``; return once reading is set up."""
        self._check_ready("read")
        log, name = self.log, self.name

        def failed(event: BindingEvent, exc: Exception) -> HandlerResult:
            log.warning("component %r: input handler failed (%s)", name, type(exc).__name__)
            return HandlerResult.RETRY

        deliver = guard(handler, lambda _, result: coerce_result(result), failed)
        stopper = await self._call_hook("read", None, self._read(deliver))
        return self._track(Subscription(self.name, None, stopper, self))

    @abc.abstractmethod
    async def _read(self, deliver: DeliverEvent) -> Stopper:
        """Start delivering events through ``deliver``; return a coroutine function that stops it."""

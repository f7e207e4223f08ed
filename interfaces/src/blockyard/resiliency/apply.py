"""Putting a component's operations under its policies.

Outbound, each public operation of the building block (``get``, ``set``, ``publish``, ``invoke``,
``get_secret``, ...) runs under the component's ``outbound`` policy. Inbound, the handler given
to ``subscribe`` / ``bulk_subscribe`` / ``read`` runs under its ``inbound`` policy: a handler that
raises or returns ``RETRY`` is tried again there (as Dapr's runtime does before the component sees
the failure); once the retries are spent the component gets the last outcome and redelivers as it
always does. An open inbound breaker refuses deliveries, which the component treats as ``RETRY``.

A component without policies is left untouched, so its calls cost nothing extra.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from blockyard.errors import BlockyardError
from blockyard.resiliency.policy import Policy
from blockyard.subscription import HandlerResult

if TYPE_CHECKING:
    from blockyard.component import Component
    from blockyard.resiliency.resolve import Resiliency

__all__ = ["INBOUND_OPERATIONS", "OUTBOUND_OPERATIONS", "AppliedPolicies", "apply_resiliency"]

#: The operations an ``outbound`` policy covers, per building block.
OUTBOUND_OPERATIONS: dict[str, tuple[str, ...]] = {
    "state": (
        "get", "set", "delete", "bulk_get", "bulk_set", "bulk_delete",
        "transact", "delete_with_prefix", "keys_like", "query",
    ),
    "pubsub": ("publish", "bulk_publish"),
    "bindings": ("invoke",),
    "secretstores": ("get_secret", "bulk_get_secrets"),
}  # fmt: skip
#: The operations whose handler an ``inbound`` policy covers, and the handler's position.
INBOUND_OPERATIONS: dict[str, dict[str, int]] = {
    "pubsub": {"subscribe": 1, "bulk_subscribe": 1},
    "bindings": {"read": 0},
}


@dataclass(frozen=True, slots=True)
class AppliedPolicies:
    """The policies a component's operations run under (each may be empty: see ``bool(policy)``)."""

    outbound: Policy
    inbound: Policy


def apply_resiliency(component: Component, resiliency: Resiliency) -> AppliedPolicies | None:
    """Put ``component``'s operations under the policies ``resiliency`` gives it.

    :returns: those policies (their breakers can be inspected), or ``None`` when it has none.
    """
    kind = component.kind.value
    outbound = resiliency.policy_for(component.name, kind, "outbound")
    inbound = resiliency.policy_for(component.name, kind, "inbound", retry_on=handler_failed)
    for operation in OUTBOUND_OPERATIONS.get(kind, ()) if outbound else ():
        if callable(getattr(type(component), operation, None)):
            setattr(component, operation, _outbound(component, operation, outbound))
    for operation, position in INBOUND_OPERATIONS.get(kind, {}).items() if inbound else ():
        if callable(getattr(type(component), operation, None)):
            setattr(component, operation, _inbound(component, operation, position, inbound))
    return AppliedPolicies(outbound, inbound) if outbound or inbound else None


def handler_failed(exc: BaseException) -> bool:
    """Inbound, a handler's failure is retried (Dapr's rule) unless it is a Blockyard error that is not retryable."""
    return exc.retryable if isinstance(exc, BlockyardError) else isinstance(exc, Exception)


def _materialised(value: Any) -> Any:
    # A generator argument (``bulk_set(r for r in ...)``) must survive a retry.
    return list(value) if isinstance(value, Iterator) else value


def _outbound(component: Component, operation: str, policy: Policy) -> Callable[..., Awaitable[Any]]:
    original = getattr(component, operation)
    name = component.name

    @functools.wraps(original)
    async def call(*args: Any, **kwargs: Any) -> Any:
        args = tuple(_materialised(a) for a in args)
        kwargs = {k: _materialised(v) for k, v in kwargs.items()}
        return await policy.run(name, operation, lambda: original(*args, **kwargs))

    return call


def _inbound(component: Component, operation: str, position: int, policy: Policy) -> Callable[..., Awaitable[Any]]:
    original = getattr(component, operation)
    name = component.name

    def guarded(handler: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
        @functools.wraps(handler)
        async def deliver(event: Any) -> Any:
            return await policy.run(name, "deliver", lambda: handler(event), failed=_asks_retry)

        return deliver

    @functools.wraps(original)
    async def call(*args: Any, **kwargs: Any) -> Any:
        if "handler" in kwargs:
            kwargs["handler"] = guarded(kwargs["handler"])
        elif len(args) > position:
            args = (*args[:position], guarded(args[position]), *args[position + 1 :])
        return await original(*args, **kwargs)

    return call


def _asks_retry(result: Any) -> bool:
    return isinstance(result, str) and result == HandlerResult.RETRY

"""Which policies a component gets: its target's, else Dapr's ``Default…Policy`` names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from blockyard.errors import is_retryable
from blockyard.resiliency.breaker import CircuitBreaker
from blockyard.resiliency.model import CircuitBreakerSpec, ComponentTarget, RetrySpec, TargetPolicies
from blockyard.resiliency.policy import NamedRetry, NamedTimeout, Policy

__all__ = ["Direction", "Resiliency"]

Direction = Literal["outbound", "inbound"]

#: Dapr's component type names in default policy names (``DefaultStatestoreComponentOutboundRetryPolicy``).
_DAPR_KIND = {"state": "Statestore", "pubsub": "Pubsub", "bindings": "Binding", "secretstores": "Secretstore"}


@dataclass(frozen=True)
class Resiliency:
    """The named policies and component targets of one or more Resiliency documents."""

    timeouts: Mapping[str, timedelta] = field(default_factory=dict)
    retries: Mapping[str, RetrySpec] = field(default_factory=dict)
    circuit_breakers: Mapping[str, CircuitBreakerSpec] = field(default_factory=dict)
    components: Mapping[str, ComponentTarget] = field(default_factory=dict)

    def policy_for(
        self,
        component: str,
        kind: str,
        direction: Direction,
        *,
        retry_on: Callable[[BaseException], bool] = is_retryable,
    ) -> Policy:
        """The policies of ``component`` (of building block ``kind``) in ``direction``, with a fresh breaker.

        Each policy the target names wins; a policy it does not name comes from the first default
        defined, most specific first: ``Default<Kind>Component<Direction><Type>Policy``,
        ``DefaultComponent<Direction><Type>Policy``, ``DefaultComponent<Type>Policy``, ``Default<Type>Policy``
        (``<Type>`` is ``Timeout``, ``Retry`` or ``CircuitBreaker``), as in Dapr.
        """
        target = self.components.get(component)
        chosen: TargetPolicies = (getattr(target, direction) if target is not None else None) or TargetPolicies()
        policy = Policy(retry_on=retry_on)
        timeout = chosen.timeout or self._default(kind, direction, "Timeout", self.timeouts)
        if timeout is not None:
            policy.timeout = NamedTimeout(timeout, self.timeouts[timeout])
        retry = chosen.retry or self._default(kind, direction, "Retry", self.retries)
        if retry is not None:
            policy.retry = NamedRetry(retry, self.retries[retry])
        breaker = chosen.circuit_breaker or self._default(kind, direction, "CircuitBreaker", self.circuit_breakers)
        if breaker is not None:
            policy.breaker = CircuitBreaker(breaker, self.circuit_breakers[breaker])
        return policy

    @staticmethod
    def _default(kind: str, direction: Direction, policy_type: str, defined: Mapping[str, object]) -> str | None:
        d = direction.capitalize()
        names = (
            f"Default{_DAPR_KIND.get(kind, kind.capitalize())}Component{d}{policy_type}Policy",
            f"DefaultComponent{d}{policy_type}Policy",
            f"DefaultComponent{policy_type}Policy",
            f"Default{policy_type}Policy",
        )
        return next((n for n in names if n in defined), None)

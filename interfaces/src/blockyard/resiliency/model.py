"""The ``kind: Resiliency`` document as a typed (pydantic) model, checked against Dapr's schema.

Defaults are Dapr's: a retry is ``constant`` every ``5s``, ``maxInterval`` ``60s``, ``maxRetries``
``-1`` (no limit); a circuit breaker has ``maxRequests`` 1, ``interval`` ``0s`` (counts never
cleared while closed), ``timeout`` ``60s`` and trips on ``consecutiveFailures > 5``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from blockyard.metadata import Duration, PositiveDuration
from blockyard.resiliency.trip import TripCondition, parse_trip
from blockyard.resources.document import app_scopes, describe, invalid
from blockyard.resources.model import API_VERSION

__all__ = [
    "CircuitBreakerSpec",
    "ComponentTarget",
    "Policies",
    "ResiliencyDocument",
    "ResiliencySpec",
    "RetrySpec",
    "TargetPolicies",
    "Targets",
]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, populate_by_name=True, arbitrary_types_allowed=True
    )


def _mapping(what: str) -> BeforeValidator:
    def validate(value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise invalid(f"expected a mapping of {what}, got {describe(value)}")
        return value

    return BeforeValidator(validate)


def _trip(value: Any) -> TripCondition:
    if isinstance(value, TripCondition):
        return value
    if not isinstance(value, str):
        raise invalid(f"expected an expression such as 'consecutiveFailures >= 5', got {describe(value)}")
    try:
        return parse_trip(value)
    except ValueError as exc:
        raise invalid(str(exc)) from None


class RetrySpec(_Model):
    """``policies.retries.<name>``: how often and how long apart a failed call is tried again."""

    policy: Literal["constant", "exponential"] = "constant"
    duration: Duration = timedelta(seconds=5)
    max_interval: PositiveDuration = Field(timedelta(seconds=60), alias="maxInterval")
    max_retries: Annotated[int, Field(ge=-1)] = Field(-1, alias="maxRetries")
    #: Dapr's HTTP / gRPC status matching; accepted, and not used: the error's own class decides.
    matching: dict[str, Any] | None = None


class CircuitBreakerSpec(_Model):
    """``policies.circuitBreakers.<name>``: when calls stop reaching the backend, and for how long."""

    max_requests: Annotated[int, Field(ge=1)] = Field(1, alias="maxRequests")
    interval: Duration = timedelta(0)
    timeout: PositiveDuration = timedelta(seconds=60)
    trip: Annotated[TripCondition, BeforeValidator(_trip)] = Field(
        default_factory=lambda: parse_trip("consecutiveFailures > 5")
    )


class Policies(_Model):
    """``spec.policies``: named timeouts, retries and circuit breakers."""

    timeouts: Annotated[dict[str, PositiveDuration], _mapping("names to durations")] = {}
    retries: Annotated[dict[str, RetrySpec], _mapping("names to retry policies")] = {}
    circuit_breakers: Annotated[dict[str, CircuitBreakerSpec], _mapping("names to circuit breakers")] = Field(
        {}, alias="circuitBreakers"
    )


class TargetPolicies(_Model):
    """The policies (by name) one direction of a target uses."""

    timeout: str | None = None
    retry: str | None = None
    circuit_breaker: str | None = Field(None, alias="circuitBreaker")


class ComponentTarget(_Model):
    """``targets.components.<name>``: ``outbound`` (calls to the component) and ``inbound`` (deliveries
    of a pub/sub or input binding to the application's handler)."""

    outbound: Annotated[TargetPolicies, _mapping("timeout, retry and circuitBreaker")] | None = None
    inbound: Annotated[TargetPolicies, _mapping("timeout, retry and circuitBreaker")] | None = None


class Targets(_Model):
    """``spec.targets``; ``apps`` and ``actors`` are Dapr runtime targets, accepted and not used here."""

    components: Annotated[dict[str, ComponentTarget], _mapping("component names to policies")] = {}
    apps: Annotated[dict[str, Any], _mapping("app ids to policies")] = {}
    actors: Annotated[dict[str, Any], _mapping("actor types to policies")] = {}


class ResiliencySpec(_Model):
    """``spec``: the policies and the targets they apply to."""

    policies: Annotated[Policies, _mapping("timeouts, retries and circuitBreakers")] = Policies()
    targets: Annotated[Targets, _mapping("components to their policies")] = Targets()

    @model_validator(mode="after")
    def _known_names(self) -> ResiliencySpec:
        known: dict[str, Mapping[str, object]] = {
            "timeout": self.policies.timeouts,
            "retry": self.policies.retries,
            "circuitBreaker": self.policies.circuit_breakers,
        }
        for component, target in self.targets.components.items():
            for direction in ("outbound", "inbound"):
                chosen: TargetPolicies | None = getattr(target, direction)
                if chosen is None:
                    continue
                for field, name in (
                    ("timeout", chosen.timeout),
                    ("retry", chosen.retry),
                    ("circuitBreaker", chosen.circuit_breaker),
                ):
                    if name is not None and name not in known[field]:
                        defined = ", ".join(sorted(known[field])) or "none"
                        path = f"spec.targets.components.{component}.{direction}.{field}"
                        raise invalid(
                            f"no {field} policy named {name!r} in spec.policies; defined: {defined}",
                            label=path,
                            field=path,
                        )
        return self


class _Metadata(_Model):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    name: Annotated[str, BeforeValidator(lambda v: v.strip() if isinstance(v, str) and v.strip() else _no_name(v))]


def _no_name(value: Any) -> str:
    raise invalid(f"expected a non-empty name, got {describe(value)}")


class ResiliencyDocument(_Model):
    """A ``kind: Resiliency`` document."""

    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True, populate_by_name=True)

    api_version: Annotated[str, BeforeValidator(lambda v: v if v == API_VERSION else _bad_version(v))] = Field(
        alias="apiVersion"
    )
    kind: Literal["Resiliency"]
    metadata: Annotated[_Metadata, _mapping("name")]
    spec: Annotated[ResiliencySpec, _mapping("policies and targets")]
    scopes: Annotated[list[str], BeforeValidator(app_scopes)] = []


def _bad_version(value: Any) -> str:
    raise invalid(f"expected {API_VERSION!r}, got {describe(value)}")

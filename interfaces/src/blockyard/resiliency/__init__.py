"""Dapr's ``Resiliency`` resource: timeouts, retries and circuit breakers for component operations.

A Resiliency document sits in the same file or folder as the Components; ``blockyard.open()``
loads it with them (every problem reported at its file and line, as for Components) and puts
each targeted component's operations under its policies::

    apiVersion: dapr.io/v1alpha1
    kind: Resiliency
    metadata:
      name: myresiliency
    spec:
      policies:
        timeouts:
          general: 2s                        # Go duration, greater than 0
        retries:
          backend:
            policy: exponential              # or constant (waits `duration`, default 5s)
            maxInterval: 10s                 # exponential: 500ms x1.5 per retry, capped here
            maxRetries: 5                    # -1 (the default): no limit
        circuitBreakers:
          backendCB:
            maxRequests: 1                   # calls let through while half-open
            interval: 0s                     # clear the counts this often while closed (0: never)
            timeout: 30s                     # open this long, then half-open
            trip: consecutiveFailures >= 5   # over requests, totalSuccesses, totalFailures,
                                             # consecutiveSuccesses, consecutiveFailures; && and ||
      targets:
        components:
          statestore:
            outbound: {timeout: general, retry: backend, circuitBreaker: backendCB}
          pubsub:
            inbound: {timeout: general, retry: backend}   # deliveries to the handler

::

    import blockyard

    async with blockyard.open("components/") as yard:
        await yard.state("statestore").get("k")   # bounded by 2s, retried, behind the breaker

Guarantees (see :mod:`~blockyard.resiliency.policy` and :mod:`~blockyard.resiliency.breaker`):

- **Outbound** = every operation of the component (``get``, ``set``, ``publish``, ``invoke``,
  ``get_secret``, ...); **inbound** = each delivery of a pub/sub or input binding to its handler.
- A timeout bounds each attempt and fails it with a retryable
  :class:`~blockyard.errors.BackendUnavailableError`.
- Only retryable errors (:func:`~blockyard.errors.is_retryable`: the backend unreachable or hung)
  are retried outbound; a wrong ETag or a bad request is raised at once. Inbound, a handler that
  raises or returns ``RETRY`` is retried. tenacity does the retrying.
- An open breaker fails calls fast with :class:`~blockyard.errors.CircuitOpenError` without
  touching the backend; after its ``timeout`` it lets ``maxRequests`` calls test the backend.
- Policies named ``Default…Policy`` apply to components no target names (Dapr's names, e.g.
  ``DefaultStatestoreComponentOutboundRetryPolicy``, ``DefaultComponentTimeoutPolicy``,
  ``DefaultRetryPolicy``).
- ``matching`` (HTTP/gRPC status codes), ``apps`` and ``actors`` targets belong to the Dapr runtime:
  accepted, not used; ``scopes`` (app ids) are checked for shape only — Blockyard has no app id.
"""

from blockyard.resiliency.apply import AppliedPolicies, apply_resiliency
from blockyard.resiliency.breaker import BreakerState, CircuitBreaker
from blockyard.resiliency.loading import (
    ResiliencyResource,
    load_resiliency,
    parse_resiliency,
    read_resiliency,
    target_warnings,
)
from blockyard.resiliency.model import CircuitBreakerSpec, ResiliencyDocument, RetrySpec
from blockyard.resiliency.policy import Policy
from blockyard.resiliency.resolve import Resiliency

__all__ = [
    "AppliedPolicies",
    "BreakerState",
    "CircuitBreaker",
    "CircuitBreakerSpec",
    "Policy",
    "Resiliency",
    "ResiliencyDocument",
    "ResiliencyResource",
    "RetrySpec",
    "apply_resiliency",
    "load_resiliency",
    "parse_resiliency",
    "read_resiliency",
    "target_warnings",
]

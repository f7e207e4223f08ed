"""Dapr's Resiliency resource: the model, its problems, the trip grammar, the breaker, default
policy names and inbound (handler) policies. The network-fault tests live with the Redis plugin
(``contrib/redis/tests/test_redis_resiliency.py``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import blockyard
from blockyard.cli import cli
from blockyard.errors import (
    BackendUnavailableError,
    CircuitOpenError,
    ComponentConfigError,
    ETagMismatchError,
    is_retryable,
)
from blockyard.problems import Severity
from blockyard.pubsub import Message
from blockyard.resiliency import BreakerState, CircuitBreaker, CircuitBreakerSpec, parse_resiliency
from blockyard.resiliency.loading import read_resiliency_text
from blockyard.resiliency.trip import Counts, parse_trip
from blockyard.resources import validate_resources
from blockyard.state import SetRequest

HEAD = "apiVersion: dapr.io/v1alpha1\nkind: Resiliency\nmetadata: {name: policies}\n"


def test_defaults_are_daprs() -> None:
    r = parse_resiliency(HEAD + "spec:\n  policies:\n    retries: {r: {}}\n    circuitBreakers: {cb: {}}\n")
    retry, cb = r.retries["r"], r.circuit_breakers["cb"]
    assert (retry.policy, retry.duration, retry.max_interval, retry.max_retries) == (
        "constant",
        timedelta(seconds=5),
        timedelta(seconds=60),
        -1,
    )
    assert (cb.max_requests, cb.interval, cb.timeout, str(cb.trip)) == (
        1,
        timedelta(0),
        timedelta(seconds=60),
        "consecutiveFailures > 5",
    )


BAD = """spec:
  policies:
    timeouts:
      general: 0s
      huge: inf
    retries:
      r:
        policy: linear
        maxRetries: -2
    circuitBreakers:
      cb:
        trip: failures > 3
  targets:
    components:
      store:
        outbound:
          retry: nope
"""


def test_every_problem_names_file_line_and_path(tmp_path: Path) -> None:
    path = tmp_path / "resiliency.yaml"
    path.write_text(HEAD + BAD, encoding="utf-8")
    report = validate_resources([str(path)])
    assert report.problems == [
        f"{path}:7: resiliency 'policies': spec.policies.timeouts.general: expected a duration greater than 0s",
        f"{path}:8: resiliency 'policies': spec.policies.timeouts.huge: "
        "expected a duration such as '5s', '1m30s', '500ms' or integer seconds",
        f"{path}:11: resiliency 'policies': spec.policies.retries.r.policy: "
        "Input should be 'constant' or 'exponential'",
        f"{path}:12: resiliency 'policies': spec.policies.retries.r.maxRetries: "
        "Input should be greater than or equal to -1",
        f"{path}:15: resiliency 'policies': spec.policies.circuitBreakers.cb.trip: unknown count 'failures'; "
        "expected comparisons such as 'consecutiveFailures >= 5' joined by && or ||, over requests, "
        "totalSuccesses, totalFailures, consecutiveSuccesses, consecutiveFailures",
    ]
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert "spec.policies.timeouts.huge" in result.output


def test_a_target_must_name_defined_policies() -> None:
    text = HEAD + "spec:\n  policies:\n    retries: {a: {}}\n  targets:\n    components:\n      s:\n"
    text += "        outbound: {retry: nope}\n"
    with pytest.raises(ComponentConfigError) as ei:
        parse_resiliency(text, source="r.yaml")
    assert ei.value.problems == [
        "r.yaml:4: resiliency 'policies': spec.targets.components.s.outbound.retry: "
        "no retry policy named 'nope' in spec.policies; defined: a"
    ]


def test_a_target_naming_no_component_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(HEAD + "spec:\n  targets:\n    components:\n      ghost: {}\n", encoding="utf-8")
    report = validate_resources([str(tmp_path)])
    assert report.ok
    assert [p.severity for p in report.details] == [Severity.WARNING]
    assert "target component 'ghost' is not defined" in report.warnings[0]


@pytest.mark.parametrize(
    ("text", "counts", "trips"),
    [
        ("consecutiveFailures >= 5", Counts(consecutive_failures=5), True),
        ("consecutiveFailures >= 5", Counts(consecutive_failures=4), False),
        ("requests > 10 && totalFailures > 5", Counts(requests=11, total_failures=6), True),
        ("requests > 10 && totalFailures > 5", Counts(requests=11, total_failures=5), False),
        ("totalFailures > 5 || consecutiveFailures == 2", Counts(consecutive_failures=2), True),
    ],
)
def test_trip_expressions(text: str, counts: Counts, trips: bool) -> None:
    assert parse_trip(text)(counts) is trips


@pytest.mark.parametrize("bad", ["", "consecutiveFailures", "consecutiveFailures >= x", "(requests > 1)", "a > 1"])
def test_trip_expressions_outside_the_grammar_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="expected comparisons such as"):
        parse_trip(bad)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _state(breaker: CircuitBreaker) -> BreakerState:
    """The breaker's state, read afresh: it changes with calls and time, which the type checker's narrowing
    of ``breaker.state`` after an assert cannot see."""
    return breaker.state


def test_the_breaker_state_machine() -> None:
    clock = _Clock()
    spec = CircuitBreakerSpec.model_validate({"trip": "consecutiveFailures >= 2", "timeout": "10s", "maxRequests": 2})
    breaker = CircuitBreaker("cb", spec, clock=clock)
    for _ in range(2):
        breaker.admit("c", "get")
        breaker.record(False)
    assert _state(breaker) is BreakerState.OPEN
    with pytest.raises(CircuitOpenError, match="circuit breaker 'cb' is open") as ei:
        breaker.admit("c", "get")
    assert is_retryable(ei.value)
    clock.now += 10
    assert _state(breaker) is BreakerState.HALF_OPEN
    breaker.admit("c", "get")
    breaker.admit("c", "get")
    with pytest.raises(CircuitOpenError, match="half-open"):
        breaker.admit("c", "get")  # maxRequests in flight
    breaker.record(True)
    assert _state(breaker) is BreakerState.HALF_OPEN
    breaker.record(True)
    assert _state(breaker) is BreakerState.CLOSED
    breaker.admit("c", "get")
    breaker.record(False)
    breaker.admit("c", "get")
    breaker.record(False)
    clock.now += 10
    breaker.admit("c", "get")
    breaker.record(False)  # a half-open failure opens it again
    assert _state(breaker) is BreakerState.OPEN
    assert breaker.times_opened == 3


def test_the_closed_breaker_clears_its_counts_every_interval() -> None:
    clock = _Clock()
    spec = CircuitBreakerSpec.model_validate({"trip": "totalFailures >= 2", "interval": "5s"})
    breaker = CircuitBreaker("cb", spec, clock=clock)
    breaker.admit("c", "get")
    breaker.record(False)
    clock.now += 5
    breaker.admit("c", "get")
    breaker.record(False)
    assert _state(breaker) is BreakerState.CLOSED


def test_default_policies_apply_most_specific_first() -> None:
    r = parse_resiliency(
        HEAD
        + """spec:
  policies:
    timeouts: {DefaultTimeoutPolicy: 9s, DefaultStatestoreComponentOutboundTimeoutPolicy: 1s, named: 3s}
    retries: {DefaultComponentRetryPolicy: {maxRetries: 2}}
  targets:
    components:
      named: {outbound: {timeout: named}}
"""
    )
    state = r.policy_for("any", "state", "outbound")
    assert state.timeout is not None
    assert (state.timeout.name, state.retry and state.retry.name) == (
        "DefaultStatestoreComponentOutboundTimeoutPolicy",
        "DefaultComponentRetryPolicy",
    )
    pubsub_in = r.policy_for("any", "pubsub", "inbound")
    assert pubsub_in.timeout is not None
    assert pubsub_in.timeout.name == "DefaultTimeoutPolicy"
    named = r.policy_for("named", "state", "outbound")
    assert named.timeout is not None
    assert named.timeout.name == "named"


def _folder(tmp_path: Path, resiliency: str) -> Path:
    (tmp_path / "c.yaml").write_text(
        """apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: bus}
spec:
  type: pubsub.in-memory
  version: v1
  metadata:
    - {name: redeliveryBackoff, value: 1h}
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: cache}
spec:
  type: state.in-memory
  version: v1
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: tick}
spec:
  type: bindings.cron
  version: v1
  metadata:
    - {name: schedule, value: "@every 1h"}
---
"""
        + HEAD
        + resiliency,
        encoding="utf-8",
    )
    return tmp_path


async def test_inbound_retries_a_failing_handler_before_the_component_sees_it(tmp_path: Path) -> None:
    policy = """spec:
  policies:
    retries: {quick: {policy: constant, duration: 10ms, maxRetries: 5}}
  targets:
    components:
      bus: {inbound: {retry: quick}}
      tick: {inbound: {retry: quick}}
"""
    calls = 0
    done = asyncio.Event()

    async def handler(message: Message) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise RuntimeError("not yet")
        done.set()

    async with blockyard.open(_folder(tmp_path, policy)) as yard:
        bus = yard.pubsub("bus")
        async with await bus.subscribe("orders", handler):
            await bus.publish("orders", {"id": 1})
            # The component would redeliver only after 1 h: the handler's third call came from the policy.
            await asyncio.wait_for(done.wait(), 30)
        assert calls == 3
        assert yard.policies("cache") is None
        cache = yard.state("cache")
        assert "get" not in vars(cache)  # a component without policies is not wrapped
        assert "read" in vars(yard.input_binding("tick"))  # inbound: the input binding's handler
        assert "publish" not in vars(bus)  # no outbound policy


async def test_outbound_policies_leave_answers_alone(tmp_path: Path) -> None:
    policy = """spec:
  policies:
    timeouts: {t: 5s}
    retries: {r: {policy: constant, duration: 10s, maxRetries: 3}}
  targets:
    components:
      cache: {outbound: {timeout: t, retry: r}}
"""
    async with blockyard.open(_folder(tmp_path, policy)) as yard:
        cache = yard.state("cache")
        await cache.bulk_set(SetRequest(f"k{i}", i) for i in range(3))  # a generator survives the wrapper
        assert (await cache.get("k2")).value == b"2"
        with pytest.raises(ETagMismatchError):
            await asyncio.wait_for(cache.set("k1", 5, etag="nope-etag"), 5)  # 10 s per retry: not retried
        assert not is_retryable(ETagMismatchError("x"))
        assert is_retryable(BackendUnavailableError("x"))


resiliency_values = st.recursive(
    st.one_of(st.text(max_size=12), st.integers(), st.none(), st.sampled_from(["inf", "-1", "1e3", "5s", "x > 1"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)
resiliency_keys = st.sampled_from(
    ["timeouts", "retries", "circuitBreakers", "policy", "duration", "maxInterval", "maxRetries", "trip",
     "maxRequests", "interval", "timeout", "components", "outbound", "inbound", "retry", "circuitBreaker", "x"]
)  # fmt: skip
resiliency_specs = st.recursive(
    resiliency_values, lambda inner: st.dictionaries(resiliency_keys, inner, max_size=4), max_leaves=20
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=resiliency_specs)
def test_hostile_resiliency_documents_give_problems_never_a_traceback(spec: object) -> None:
    doc = {"apiVersion": "dapr.io/v1alpha1", "kind": "Resiliency", "metadata": {"name": "r"}, "spec": spec}
    found, problems = read_resiliency_text(yaml.safe_dump(doc, allow_unicode=True), "r.yaml")
    assert len(found) + bool(problems) >= 1
    for problem in problems:
        assert problem.file == "r.yaml"
        assert problem.message.startswith("resiliency 'r': ")

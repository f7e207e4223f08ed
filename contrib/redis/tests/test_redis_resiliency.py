"""Resiliency policies (timeouts, retries, circuit breakers) on a real Redis behind a black-holed path.

The state store reaches the launcher's Redis through a loopback proxy (:mod:`blackhole`) that the
test cuts: connections are accepted and never answered, so only a timeout ends a call. The
component's own timeouts are far longer than the policies', so what bounds a call is the policy.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from blackhole import CuttableProxy
from redis_servers import Server, eventually

import blockyard
from blockyard.errors import BackendUnavailableError, CircuitOpenError, ETagMismatchError
from blockyard.resiliency import BreakerState, CircuitBreaker

#: Far above every policy timeout: when a call ends, the policy ended it (not the client).
COMPONENT_TIMEOUT = "60s"


@pytest.fixture
async def proxy(redis_server: Server) -> AsyncIterator[CuttableProxy]:
    p = await CuttableProxy(redis_server.host, redis_server.port).start()
    yield p
    await p.close()


def _state(breaker: CircuitBreaker) -> BreakerState:
    """The breaker's state, read afresh: it changes with calls and time, which the type checker's narrowing
    of ``breaker.state`` after an assert cannot see."""
    return breaker.state


def _folder(tmp_path: Path, proxy: CuttableProxy, server: Server, policies: str, outbound: str) -> Path:
    password = f"\n      - {{name: redisPassword, value: {server.password}}}" if server.password else ""
    (tmp_path / "store.yaml").write_text(
        f"""apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {{name: store}}
spec:
  type: state.redis
  version: v1
  metadata:
    - {{name: redisHost, value: "{proxy.address}"}}
    - {{name: dialTimeout, value: {COMPONENT_TIMEOUT}}}
    - {{name: readTimeout, value: {COMPONENT_TIMEOUT}}}
    - {{name: redisMaxRetries, value: "-1"}}
    - {{name: keyPrefix, value: none}}{password}
---
apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: {{name: redis-policies}}
spec:
  policies:
{policies}
  targets:
    components:
      store:
        outbound: {outbound}
""",
        encoding="utf-8",
    )
    return tmp_path


@pytest.mark.backend("redis")
async def test_a_timeout_policy_bounds_a_call_into_a_black_hole(
    tmp_path: Path, proxy: CuttableProxy, redis_server: Server
) -> None:
    policies = "    timeouts: {quick: 500ms}"
    async with blockyard.open(_folder(tmp_path, proxy, redis_server, policies, "{timeout: quick}")) as yard:
        store = yard.state("store")
        key = f"k-{uuid.uuid4().hex}"
        await store.set(key, b"v")
        proxy.cut()
        with pytest.raises(BackendUnavailableError, match=r"no answer within 500ms \(resiliency timeout 'quick'\)"):
            await asyncio.wait_for(store.get(key), 30)  # the guard only catches a hang; 60 s would be the client's
        assert proxy.swallowed >= 1, "the request reached the cut proxy"
        proxy.heal()
        assert (await store.get(key)).value == b"v"  # a new connection, no app restart


@pytest.mark.backend("redis")
async def test_retries_recover_once_the_fault_is_removed(
    tmp_path: Path, proxy: CuttableProxy, redis_server: Server
) -> None:
    policies = """    timeouts: {quick: 300ms}
    retries: {steady: {policy: constant, duration: 50ms, maxRetries: -1}}
    circuitBreakers: {counter: {trip: consecutiveFailures > 1000}}"""
    outbound = "{timeout: quick, retry: steady, circuitBreaker: counter}"
    async with blockyard.open(_folder(tmp_path, proxy, redis_server, policies, outbound)) as yard:
        store = yard.state("store")
        key = f"k-{uuid.uuid4().hex}"
        await store.set(key, b"survives")
        proxy.cut()
        pending = asyncio.create_task(store.get(key))
        await asyncio.wait_for(proxy.wait_swallowed(3), 30)  # three attempts went into the black hole
        assert not pending.done()
        proxy.heal()
        item = await asyncio.wait_for(pending, 30)
        assert item.value == b"survives"
        policy = yard.policies("store")
        assert policy is not None
        breaker = policy.outbound.breaker
        assert breaker is not None
        assert breaker.counts.total_failures >= 3  # every failed attempt was retried, then one succeeded
        assert breaker.counts.consecutive_successes >= 1


@pytest.mark.backend("redis")
async def test_errors_that_are_answers_are_not_retried(
    tmp_path: Path, proxy: CuttableProxy, redis_server: Server
) -> None:
    policies = """    retries: {steady: {policy: constant, duration: 10s, maxRetries: 5}}
    circuitBreakers: {counter: {trip: consecutiveFailures > 1000}}"""
    outbound = "{retry: steady, circuitBreaker: counter}"
    async with blockyard.open(_folder(tmp_path, proxy, redis_server, policies, outbound)) as yard:
        store = yard.state("store")
        key = f"k-{uuid.uuid4().hex}"
        await store.set(key, b"v")
        policy = yard.policies("store")
        assert policy is not None
        breaker = policy.outbound.breaker
        assert breaker is not None
        before = breaker.counts.requests
        with pytest.raises(ETagMismatchError):
            await store.set(key, b"w", etag="999999")
        assert breaker.counts.requests == before + 1  # one attempt: a wrong ETag is an answer, not a fault
        assert _state(breaker) is BreakerState.CLOSED


@pytest.mark.backend("redis")
async def test_the_breaker_opens_fails_fast_without_the_backend_and_half_opens(
    tmp_path: Path, proxy: CuttableProxy, redis_server: Server
) -> None:
    policies = """    timeouts: {quick: 300ms}
    circuitBreakers: {guard: {trip: consecutiveFailures >= 3, timeout: 1s, maxRequests: 1}}"""
    outbound = "{timeout: quick, circuitBreaker: guard}"
    async with blockyard.open(_folder(tmp_path, proxy, redis_server, policies, outbound)) as yard:
        store = yard.state("store")
        policy = yard.policies("store")
        assert policy is not None
        breaker = policy.outbound.breaker
        assert breaker is not None
        key = f"k-{uuid.uuid4().hex}"
        await store.set(key, b"v")
        proxy.cut()
        for _ in range(3):
            with pytest.raises(BackendUnavailableError, match="resiliency timeout") as ei:
                await store.get(key)
            assert not isinstance(ei.value, CircuitOpenError)
        assert _state(breaker) is BreakerState.OPEN

        # Open: calls fail fast and nothing reaches the proxy, let alone Redis.
        seen = (proxy.connections, proxy.bytes_forwarded, proxy.swallowed)
        for _ in range(20):
            with pytest.raises(CircuitOpenError, match="circuit breaker 'guard' is open"):
                await store.get(key)
        await asyncio.sleep(0)  # let the proxy run, had anything been sent
        assert (proxy.connections, proxy.bytes_forwarded, proxy.swallowed) == seen

        # After its timeout the breaker lets one call test the backend; still cut, so it opens again.
        await eventually(lambda: _state(breaker) is BreakerState.HALF_OPEN, within=20)
        with pytest.raises(BackendUnavailableError, match="resiliency timeout"):
            await store.get(key)
        assert proxy.swallowed > seen[2], "the half-open call reached the proxy"
        assert _state(breaker) is BreakerState.OPEN
        assert breaker.times_opened == 2

        # Healed: the next half-open call succeeds and closes the breaker.
        proxy.heal()
        await eventually(lambda: _state(breaker) is BreakerState.HALF_OPEN, within=20)
        assert (await store.get(key)).value == b"v"
        assert _state(breaker) is BreakerState.CLOSED

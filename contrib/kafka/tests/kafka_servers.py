"""Real Kafka brokers for the tests, from the conformance launcher (``kafka``, ``kafka-sasl``, ``kafka-mtls``).

Without the launcher (``blockyard-conformance`` not installed) or when a broker cannot be had
here, the tests that need it are skipped with the command that would enable it.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class Broker:
    """Where a Kafka broker listens, with its SASL user or its TLS client certificate when it has one."""

    brokers: str
    source: str
    username: str | None = None
    password: str | None = None
    tls: dict[str, str] | None = None
    """``caCert``, ``clientCert``, ``clientKey`` (PEM) for a broker that wants a client certificate."""

    def metadata(self, **extra: Any) -> dict[str, Any]:
        """Component metadata for this broker, with short group timings for tests."""
        md: dict[str, Any] = {
            "brokers": self.brokers,
            "authType": "none",
            "heartbeatInterval": "500ms",
            "sessionTimeout": "6s",
            "dialTimeout": "10s",
        }
        if self.username:
            md.update(
                authType="password",
                saslUsername=self.username,
                saslPassword=self.password,
                saslMechanism="SHA-512",
                disableTls="true",
            )
        if self.tls:
            md.update(authType="mtls", **self.tls)
        md.update(extra)
        return md


def launcher_broker(name: str) -> Broker:
    """The launcher's ``kafka`` / ``kafka-sasl`` / ``kafka-mtls`` backend; skips the test when it cannot be had."""
    try:
        from blockyard_conformance.backends.launcher import get_launcher  # type: ignore[import-not-found]
        from blockyard_conformance.backends.recipe import BackendUnavailable  # type: ignore[import-not-found]
    except ImportError:
        pytest.skip("the backend launcher (blockyard-conformance) is not installed")
    try:
        ep = get_launcher().up(name)
    except BackendUnavailable as exc:
        pytest.skip(f"{name} is not available: {exc.reason}; enable with: {exc.enable_command}")
    tls = {k: ep.params[k] for k in ("caCert", "clientCert", "clientKey") if k in ep.params} or None
    return Broker(ep.params["brokers"], ep.source, ep.params.get("username"), ep.params.get("password"), tls)


def fresh(prefix: str = "t") -> str:
    """A unique topic or group name."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def eventually(check: Callable[[], Any], within: float = 30.0) -> None:
    """Wait until ``check()`` (a bool, or an awaitable of one) is true; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not (await r if inspect.isawaitable(r := check()) else r):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.02)

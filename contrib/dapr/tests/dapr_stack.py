"""Test helpers: an app and its daprd side by side, Component files, and waiting on recorded events."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from blockyard_dapr.daprd import Daprd
from blockyard_dapr.testing import AppProcess

HERE = Path(__file__).parent


@dataclass
class Host:
    """One app process and its daprd; restart either one."""

    app: AppProcess
    daprd: Daprd

    def __post_init__(self) -> None:
        self.app.env |= {
            "DAPR_RUNTIME_HOST": "127.0.0.1",
            "DAPR_HTTP_PORT": str(self.daprd.http_port),
            "DAPR_GRPC_PORT": str(self.daprd.grpc_port),
        }

    def start(self) -> Host:
        """The app waits for its sidecar and daprd for its app: start both, then wait for both."""
        self.app.spawn()
        self.daprd.start(timeout=120)
        self.app.wait_healthy(120)
        return self

    def stop(self) -> None:
        self.daprd.stop()
        self.app.stop()

    def restart_daprd(self) -> None:
        self.daprd.stop()
        self.daprd.start(timeout=120)

    def restart_app(self, **env: str) -> None:
        self.app.stop()
        self.app.env.update(env)
        self.app.start(120)

    def actor(self, actor_type: str, actor_id: str, method: str, body: Any = None, timeout: float = 60) -> Any:
        """Call an actor method over daprd's plain HTTP API; returns the decoded JSON answer."""
        url = f"{self.daprd.http_url}/v1.0/actors/{actor_type}/{actor_id}/method/{method}"
        reply = httpx.post(url, json=body, timeout=timeout)
        assert reply.status_code == 200, f"{method} on {actor_type}/{actor_id}: {reply.status_code} {reply.text}"
        return reply.json() if reply.content else None


def read_events(path: Path) -> list[dict[str, Any]]:
    """The JSON lines recorded so far."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_events(
    path: Path, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 60
) -> list[dict[str, Any]]:
    """Poll the event file until ``predicate(events)`` holds; fails with what was seen."""
    deadline = time.monotonic() + timeout
    while True:
        events = read_events(path)
        if predicate(events):
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"events never matched within {timeout:.0f} s; got {events[-20:]}")
        time.sleep(0.1)

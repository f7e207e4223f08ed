"""An actor app on the official Dapr Python SDK (FastAPI extension), run as its own process by the tests.

``ACTOR_EVENTS=FILE ACTOR_INSTANCE=NAME python actor_app.py --port PORT`` hosts the ``Counter`` actor type
(under the name in ``$ACTOR_TYPE``, default ``Counter``).
Every step the tests check is appended to FILE as one JSON line (``instance``, ``actor``, ``event``
and details): method entry and exit, activation, timer and reminder callbacks.
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from dapr.actor import Actor, ActorInterface, Remindable, actormethod
from dapr.ext.fastapi import DaprActor
from fastapi import FastAPI

EVENTS = Path(os.environ.get("ACTOR_EVENTS", "events.jsonl"))
INSTANCE = os.environ.get("ACTOR_INSTANCE", "app")
ACTOR_TYPE = os.environ.get("ACTOR_TYPE", "Counter")

Method = TypeVar("Method", bound=Callable[..., Any])


def record(actor: str, event: str, **details: Any) -> None:
    """Append one event line (a single write, so lines of concurrent writers never mix)."""
    line = json.dumps({"instance": INSTANCE, "actor": actor, "event": event, **details}) + "\n"
    with EVENTS.open("a") as f:
        f.write(line)


def actor_method(name: str) -> Callable[[Method], Method]:
    """The SDK's ``actormethod(name=...)``, typed (the SDK leaves it unannotated): it marks the method as
    the actor method ``name``, and abstract, and returns it unchanged."""
    mark: Callable[[Method], Method] = actormethod(name=name)
    return mark


class CounterInterface(ActorInterface):
    @actor_method("Add")
    @abc.abstractmethod
    async def add(self, n: int) -> int: ...

    @actor_method("Get")
    @abc.abstractmethod
    async def get(self) -> int: ...

    @actor_method("Host")
    @abc.abstractmethod
    async def host(self) -> str: ...

    @actor_method("StartTimer")
    @abc.abstractmethod
    async def start_timer(self, period_ms: int) -> None: ...

    @actor_method("StopTimer")
    @abc.abstractmethod
    async def stop_timer(self) -> None: ...

    @actor_method("SetReminder")
    @abc.abstractmethod
    async def set_reminder(self, due_ms: int) -> None: ...


class Counter(Actor, CounterInterface, Remindable):
    """A counter whose ``Add`` reads, yields to the event loop, then writes: interleaved turns would
    lose updates and show as overlapping enter/exit events."""

    async def _on_activate(self) -> None:
        record(self.id.id, "activate")

    async def add(self, n: int) -> int:
        record(self.id.id, "enter")
        _, count = await self._state_manager.try_get_state("count")
        await asyncio.sleep(0.02)  # give a second turn every chance to interleave
        count = int(count or 0) + int(n)
        await self._state_manager.set_state("count", count)
        await self._state_manager.save_state()
        record(self.id.id, "exit", count=count)
        return count

    async def get(self) -> int:
        _, count = await self._state_manager.try_get_state("count")
        return int(count or 0)

    async def host(self) -> str:
        return INSTANCE

    async def start_timer(self, period_ms: int) -> None:
        period = timedelta(milliseconds=period_ms)
        await self.register_timer("tick", self.tick, None, period, period)

    async def stop_timer(self) -> None:
        await self.unregister_timer("tick")

    async def tick(self, state: Any) -> None:
        record(self.id.id, "timer")

    async def set_reminder(self, due_ms: int) -> None:
        due = timedelta(milliseconds=due_ms)
        await self.register_reminder("ring", b"ring-state", due, timedelta(0))

    async def receive_reminder(
        self, name: str, state: bytes, due_time: timedelta, period: timedelta, ttl: timedelta | None = None
    ) -> None:
        record(self.id.id, "reminder", name=name, state=state.decode())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    app = FastAPI()
    actors = DaprActor(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.on_event("startup")
    async def register() -> None:
        # the SDK looks for Remindable among the direct bases
        await actors.register_actor(type(ACTOR_TYPE, (Counter, Remindable), {}))

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()

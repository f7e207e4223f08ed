"""Dapr actors end to end on Blockyard state: an app on the official Python SDK's actor runtime, daprd
with Dapr's placement and scheduler services, and the actor state store a Blockyard store
(``state.redis``; ``state.sqlite`` too) served to daprd as a pluggable component."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dapr_stack import HERE, Host, read_events, wait_for_events

from blockyard_conformance.backends.launcher import get_launcher
from blockyard_dapr.daprd import Daprd, build
from blockyard_dapr.testing import AppProcess, ServeProcess
from blockyard_dapr.testing import component_document as component

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.backend("redis"),
    pytest.mark.backend("daprd", own=True),
    pytest.mark.backend("placement"),
    pytest.mark.backend("scheduler"),
]
APP_ID = "counters"


class Stack:
    """Blockyard's stores served on one socket folder, the control plane, and hosts of actor apps."""

    def __init__(self, work: Path) -> None:
        launcher = get_launcher()
        redis = launcher.up("redis")
        self.placement = launcher.up("placement").address
        self.scheduler = launcher.up("scheduler").address
        self.binary = build()
        self.work = work
        self.sockets = Path(tempfile.mkdtemp(prefix="by-actors-"))
        self.stores = {
            "redis": component(
                "actorstore",
                "state.blockyard-redis",
                {"redisHost": f"{redis.host}:{redis.port}", "actorStateStore": "true"},
            ),
            "sqlite": component(
                "actorstore",
                "state.blockyard-sqlite",
                {"connectionString": str(work / "actors.db"), "actorStateStore": "true"},
            ),
        }
        self.serve = ServeProcess(
            ["--type", "state.redis", "--type", "state.sqlite"],
            self.sockets,
            ["blockyard-redis", "blockyard-sqlite"],
            work / "serve.log",
        ).start()
        self.hosts: list[Host] = []

    def host(self, name: str, store: str = "redis", app_id: str = APP_ID, actor_type: str = "Counter") -> Host:
        """Start an actor app ``name`` and its daprd (actor state in ``store``)."""
        resources = self.work / f"resources-{store}"
        resources.mkdir(exist_ok=True)
        (resources / "actorstore.yaml").write_text(self.stores[store])
        events = self.work / "events.jsonl"
        app = AppProcess(
            HERE / "actor_app.py",
            self.work / f"app-{name}.log",
            env={"ACTOR_EVENTS": str(events), "ACTOR_INSTANCE": name, "ACTOR_TYPE": actor_type},
        )
        daprd = Daprd(
            app_id,
            resources,
            self.sockets,
            self.work / f"daprd-{name}.log",
            app_port=app.port,
            binary=self.binary,
            names_db=self.work / "names.db",
            placement=self.placement,
            scheduler=self.scheduler,
        )
        host = Host(app, daprd)
        self.hosts.append(host)
        return host.start()

    @property
    def events(self) -> Path:
        return self.work / "events.jsonl"

    def close(self) -> None:
        for host in reversed(self.hosts):
            host.stop()
        self.serve.stop()
        shutil.rmtree(self.sockets, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("actors"))
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def host(stack: Stack) -> Host:
    return stack.host("a")


@pytest.fixture
def actor_id() -> str:
    return f"c-{uuid.uuid4().hex[:8]}"


def of(actor: str, event: str) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    return lambda events: [e for e in events if e["actor"] == actor and e["event"] == event]


def test_state_survives_an_app_restart_and_a_daprd_restart(host: Host, actor_id: str) -> None:
    assert host.actor("Counter", actor_id, "Add", 5) == 5
    host.restart_app()
    assert host.actor("Counter", actor_id, "Get") == 5
    assert host.actor("Counter", actor_id, "Add", 2) == 7
    host.restart_daprd()
    assert host.actor("Counter", actor_id, "Get") == 7


def test_sqlite_actor_state_survives_a_daprd_restart(stack: Stack, actor_id: str) -> None:
    lite = stack.host("lite", store="sqlite", app_id="counters-lite", actor_type="LiteCounter")
    assert lite.actor("LiteCounter", actor_id, "Add", 3) == 3
    lite.restart_daprd()
    assert lite.actor("LiteCounter", actor_id, "Get") == 3
    lite.stop()


def add_concurrently(url: str, calls: int, method: str = "POST") -> list[int]:
    """``calls`` concurrent ``Add(1)`` requests to ``url``; the sorted answers."""

    async def add_all() -> list[int]:
        async with httpx.AsyncClient(timeout=120) as client:
            replies = await asyncio.gather(*(client.request(method, url, json=1) for _ in range(calls)))
        for reply in replies:
            assert reply.status_code == 200, reply.text
        return sorted(r.json() for r in replies)

    return asyncio.run(add_all())


def turns(stack: Stack, actor_id: str) -> list[str]:
    return [e["event"] for e in read_events(stack.events) if e["actor"] == actor_id and e["event"] in ("enter", "exit")]


def test_concurrent_calls_to_one_actor_take_turns(host: Host, stack: Stack, actor_id: str) -> None:
    calls = 8
    answers = add_concurrently(f"{host.daprd.http_url}/v1.0/actors/Counter/{actor_id}/method/Add", calls)
    assert answers == list(range(1, calls + 1)), "a turn lost another turn's update"
    assert turns(stack, actor_id) == ["enter", "exit"] * calls, f"turns interleaved: {turns(stack, actor_id)}"


def test_the_turn_check_sees_interleaving_when_daprd_is_bypassed(host: Host, stack: Stack, actor_id: str) -> None:
    """Self-test of the check above: the same calls sent straight to the app, without daprd's
    per-actor lock, do interleave, and the check sees it."""
    host.actor("Counter", actor_id, "Get")  # activated through daprd first
    url = f"http://127.0.0.1:{host.app.port}/actors/Counter/{actor_id}/method/Add"
    add_concurrently(url, 4, method="PUT")  # how daprd calls the app
    assert turns(stack, actor_id) != ["enter", "exit"] * 4


def test_a_timer_fires_until_stopped(host: Host, stack: Stack, actor_id: str) -> None:
    host.actor("Counter", actor_id, "StartTimer", 200)
    ticks = of(actor_id, "timer")
    wait_for_events(stack.events, lambda events: len(ticks(events)) >= 3)
    host.actor("Counter", actor_id, "StopTimer")


def test_a_reminder_fires_after_an_app_restart(host: Host, stack: Stack, actor_id: str) -> None:
    host.actor("Counter", actor_id, "SetReminder", 6000)
    host.restart_app(ACTOR_INSTANCE="a-restarted")
    rings = of(actor_id, "reminder")
    events = wait_for_events(stack.events, lambda events: bool(rings(events)), timeout=90)
    ring = rings(events)[0]
    assert ring["instance"] == "a-restarted"
    assert (ring["name"], ring["state"]) == ("ring", "ring-state")


def test_two_app_instances_share_the_actor_type_through_placement(host: Host, stack: Stack) -> None:
    other = stack.host("b")
    ids = [f"p-{uuid.uuid4().hex[:8]}" for _ in range(12)]
    via_a = {i: host.actor("Counter", i, "Host") for i in ids}
    via_b = {i: other.actor("Counter", i, "Host") for i in ids}
    assert via_a == via_b, "one actor id answered from two instances"
    assert set(via_a.values()) == {host.app.env["ACTOR_INSTANCE"], "b"}, "placement used one instance only"
    activations = read_events(stack.events)
    for i in ids:
        assert len([e for e in activations if e["actor"] == i and e["event"] == "activate"]) == 1, i

"""blockyard.sync: the same components and errors from threads, one loop thread, clean shutdown."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import blockyard.sync
from blockyard.errors import (
    ComponentConfigError,
    ComponentNotFoundError,
    ETagMismatchError,
    InvalidRequestError,
)
from blockyard.pubsub import Message
from blockyard.state import SetRequest
from blockyard.subscription import HandlerResult

COMPONENTS = """\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: statestore}
spec: {type: state.in-memory, version: v1}
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: pubsub}
spec: {type: pubsub.in-memory, version: v1}
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: elsewhere}
spec: {type: state.in-memory, version: v1}
scopes: [billing]
"""


def sync_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("blockyard-sync")]


@pytest.fixture
def components(tmp_path: Path) -> Path:
    (tmp_path / "components.yaml").write_text(COMPONENTS)
    return tmp_path


@pytest.fixture
def yard(components: Path) -> Iterator[blockyard.sync.SyncYard]:
    with blockyard.sync.open(components, app_id="orders") as y:
        yield y
    assert sync_threads() == []


def test_many_threads_read_modify_write_without_lost_updates(yard: blockyard.sync.SyncYard) -> None:
    store = yard.state("statestore")
    store.set("counter", 0)
    threads, per_thread = 16, 25

    def add(_: int) -> int:
        conflicts = 0
        for _ in range(per_thread):
            while True:
                item = store.get("counter")
                try:
                    store.set("counter", item.json() + 1, etag=item.etag)
                    break
                except ETagMismatchError:
                    conflicts += 1
        return conflicts

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(add, range(threads)))
    assert store.get("counter").json() == threads * per_thread


def test_bulk_and_transactional_calls(yard: blockyard.sync.SyncYard) -> None:
    store = yard.state("statestore")
    store.bulk_set(SetRequest(f"k{i}", i) for i in range(3))
    assert [item.json() for item in store.bulk_get(["k0", "k1", "k2"])] == [0, 1, 2]
    store.transact([SetRequest("k0", 10)])
    assert store.get("k0").json() == 10
    assert store.keys_like("k%").keys == ["k0", "k1", "k2"]
    assert store.name == "statestore"
    assert store.type == "state.in-memory"


def test_errors_are_the_same_classes(yard: blockyard.sync.SyncYard) -> None:
    store = yard.state("statestore")
    store.set("k", 1)
    with pytest.raises(ETagMismatchError, match="component 'statestore'"):
        store.set("k", 2, etag="not-the-etag")
    with pytest.raises(InvalidRequestError, match="key must be a non-empty string"):
        store.get("")
    with pytest.raises(InvalidRequestError, match="unrecognized concurrency model 'bogus'"):
        store.set("k", 1, concurrency="bogus")
    with pytest.raises(ComponentNotFoundError, match="scoped to other apps"):
        yard.state("elsewhere")
    with pytest.raises(ComponentNotFoundError, match="not a state store"):
        yard.state("pubsub")


def test_a_sync_subscription_dead_letters_a_failed_message(yard: blockyard.sync.SyncYard) -> None:
    bus = yard.pubsub("pubsub")
    forwarded: list[Message] = []
    done = threading.Event()

    def dead_letters(message: Message) -> None:
        forwarded.append(message)
        done.set()

    def poison(message: Message) -> HandlerResult:
        raise RuntimeError("poison")

    with bus.subscribe("dead", dead_letters), bus.subscribe("orders", poison, dead_letter_topic="dead"):
        bus.publish("orders", {"id": "p"})
        assert done.wait(30)
    assert [m.json() for m in forwarded] == [{"id": "p"}]


def test_sync_handlers_run_off_the_loop_and_may_call_the_facade(yard: blockyard.sync.SyncYard) -> None:
    bus, store = yard.pubsub("pubsub"), yard.state("statestore")
    loop_thread = yard._runner.thread
    seen: list[tuple[str, bool]] = []
    done = threading.Event()

    def handle(message: Message) -> HandlerResult | None:
        seen.append((message.json()["id"], threading.current_thread() is loop_thread))
        store.set(f"handled-{message.json()['id']}", True)  # the facade, from a handler thread
        if len(seen) == 3:
            done.set()
        return None

    with bus.subscribe("orders", handle) as sub:
        for i in ("a", "b", "c"):
            bus.publish("orders", {"id": i})
        assert done.wait(30)
    assert not sub.active
    assert sorted(seen) == [("a", False), ("b", False), ("c", False)]
    assert store.get("handled-b").json() is True


def test_a_raising_sync_handler_gets_the_message_again(yard: blockyard.sync.SyncYard) -> None:
    calls: list[int] = []
    done = threading.Event()

    def handle(message: Message) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first attempt fails")
        done.set()

    with yard.pubsub("pubsub").subscribe("retry", handle):
        yard.pubsub("pubsub").publish("retry", b"x")
        assert done.wait(30)
    assert len(calls) == 2


def test_calling_from_the_loop_thread_is_refused(yard: blockyard.sync.SyncYard) -> None:
    store = yard.state("statestore")

    async def inside() -> None:
        store.get("k")

    with pytest.raises(RuntimeError, match="own event loop thread"):
        yard._runner.call(inside())


def test_close_is_idempotent_and_leaves_no_thread(components: Path) -> None:
    before = set(threading.enumerate())
    y = blockyard.sync.open(components, app_id="orders")
    store = y.state("statestore")
    sub = y.pubsub("pubsub").subscribe("t", lambda m: None)
    assert len(sync_threads()) == 1
    y.close()
    y.close()
    assert y.closed
    assert not sub.active
    assert sync_threads() == []
    assert [t for t in set(threading.enumerate()) - before if t.is_alive()] == []
    with pytest.raises(ComponentConfigError, match="the yard is closed"):
        store.get("k")


def test_a_failed_open_leaves_no_thread(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(COMPONENTS.replace("state.in-memory", "state.no-such-store", 1))
    with pytest.raises(ComponentConfigError, match=r"state\.no-such-store"):
        blockyard.sync.open(tmp_path)
    assert sync_threads() == []


def test_bad_handler_threads(components: Path) -> None:
    with pytest.raises(ComponentConfigError, match="handler_threads must be a positive integer"):
        blockyard.sync.open(components, handler_threads=0)


def test_an_open_yard_is_closed_at_interpreter_exit(components: Path) -> None:
    script = f"""
import blockyard.sync, blockyard.yard
original = blockyard.yard.Yard.close
async def close(self):
    await original(self)
    print("yard closed", flush=True)
blockyard.yard.Yard.close = close
yard = blockyard.sync.open({str(components)!r})
yard.state("statestore").set("k", 1)
print("exiting", flush=True)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["exiting", "yard closed"]
    assert "Traceback" not in result.stderr

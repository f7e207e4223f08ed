"""Blockyard and Dapr share data on Redis, both ways, with daprd's own built-in Go components.

One folder of Component YAML (``state.redis`` and ``pubsub.redis``) is loaded by daprd (its Go
Redis state store and Redis Streams pub/sub) and by ``blockyard.open(..., app_id=...)`` with the
same app id: a Dapr app writes state and publishes, the Blockyard app reads the same keys with
working ETags and receives the messages as CloudEvents; and the reverse.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dapr_app import SubscriberApp

import blockyard
from blockyard.errors import ETagMismatchError
from blockyard.pubsub import Message
from blockyard_conformance.backends.launcher import get_launcher
from blockyard_conformance.support import Inbox
from blockyard_dapr.daprd import Daprd, build
from blockyard_dapr.testing import component_document as component

pytestmark = [pytest.mark.timeout(1200), pytest.mark.backend("redis")]

APP_ID = "interop-app"
TO_DAPR = f"to-dapr-{uuid.uuid4().hex[:8]}"
WAIT = 60.0
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass
class Dapr:
    daprd: Daprd
    app: SubscriberApp
    resources: Path


@pytest.fixture(scope="module")
def dapr() -> Iterator[Dapr]:
    """daprd with its built-in Redis components and a subscriber app on ``TO_DAPR``."""
    binary = build()
    redis = get_launcher().up("redis")
    work = Path(tempfile.mkdtemp(prefix="by-interop-"))
    resources = work / "resources"
    resources.mkdir()
    host = f"{redis.host}:{redis.port}"
    (resources / "state.yaml").write_text(component("statestore", "state.redis", {"redisHost": host}))
    (resources / "pubsub.yaml").write_text(
        component("pubsub", "pubsub.redis", {"redisHost": host, "processingTimeout": "2s", "redeliverInterval": "1s"})
    )
    sockets = work / "sockets"
    sockets.mkdir()
    app = SubscriberApp({("pubsub", TO_DAPR): "/orders"})
    daprd = Daprd(APP_ID, resources, sockets, work / "daprd.log", app_port=app.start(), binary=binary)
    try:
        daprd.start(timeout=120)
        yield Dapr(daprd, app, resources)
    finally:
        daprd.stop()
        app.stop()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def client(dapr: Dapr, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The official Dapr Python SDK, talking to that daprd."""
    from dapr.clients import DaprClient
    from dapr.conf import settings

    monkeypatch.setattr(settings, "DAPR_RUNTIME_HOST", "127.0.0.1")
    monkeypatch.setattr(settings, "DAPR_HTTP_PORT", dapr.daprd.http_port)
    monkeypatch.setattr(settings, "DAPR_GRPC_PORT", dapr.daprd.grpc_port)
    with DaprClient(address=f"127.0.0.1:{dapr.daprd.grpc_port}") as sdk:
        yield sdk


@pytest.fixture
async def yard(dapr: Dapr) -> AsyncIterator[blockyard.Yard]:
    """The Blockyard app: the same Component files, the same app id."""
    async with blockyard.open(dapr.resources, app_id=APP_ID) as y:
        yield y


async def test_state_written_by_dapr_is_read_by_blockyard_with_working_etags(client: Any, yard: Any) -> None:
    store = yard.state("statestore")
    key = f"order-{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(client.save_state, "statestore", key, json.dumps({"qty": 1}))
    dapr_etag = (await asyncio.to_thread(client.get_state, "statestore", key)).etag

    item = await store.get(key)
    assert item.json() == {"qty": 1}
    assert item.etag == dapr_etag
    new_etag = await store.set(key, {"qty": 2}, etag=item.etag)
    with pytest.raises(ETagMismatchError):
        await store.set(key, {"qty": 3}, etag=item.etag)

    back = await asyncio.to_thread(client.get_state, "statestore", key)
    assert (json.loads(back.data), back.etag) == ({"qty": 2}, new_etag)
    assert [i.key for i in await store.bulk_get([key])] == [key]


async def test_state_written_by_blockyard_is_read_by_dapr_with_working_etags(client: Any, yard: Any) -> None:
    store = yard.state("statestore")
    assert store.key_prefix == f"{APP_ID}||"
    key = f"cart-{uuid.uuid4().hex[:8]}"
    etag = await store.set(key, {"items": [1, 2]})

    got = await asyncio.to_thread(client.get_state, "statestore", key)
    assert (json.loads(got.data), got.etag) == ({"items": [1, 2]}, etag)
    await asyncio.to_thread(client.save_state, "statestore", key, json.dumps({"items": [3]}), etag=got.etag)
    with pytest.raises(Exception, match=r"(?i)etag|precondition|conflict"):
        await asyncio.to_thread(client.save_state, "statestore", key, json.dumps({"items": [4]}), etag=etag)

    item = await store.get(key)
    assert item.json() == {"items": [3]}
    with pytest.raises(ETagMismatchError):
        await store.delete(key, etag=etag)
    await store.delete(key, etag=item.etag)
    assert (await asyncio.to_thread(client.get_state, "statestore", key)).data == b""


async def test_events_published_by_dapr_reach_a_blockyard_subscriber(client: Any, yard: Any) -> None:
    pubsub = yard.pubsub("pubsub")
    topic = f"from-dapr-{uuid.uuid4().hex[:8]}"
    order = uuid.uuid4().hex
    inbox = Inbox()

    async def handler(message: Message) -> None:
        inbox.add(message)

    async with await pubsub.subscribe(topic, handler, consumer_group="blockyard-reader"):
        await asyncio.to_thread(
            client.publish_event,
            "pubsub",
            topic,
            json.dumps({"order": order}),
            data_content_type="application/json",
            publish_metadata={"cloudevent.traceparent": TRACEPARENT},
        )
        await inbox.wait_for(lambda: bool(inbox.items), within=WAIT, what="the event daprd published")
    message = inbox.items[0]
    assert message.json() == {"order": order}
    assert message.content_type == "application/json"
    assert message.event is not None
    assert (message.event.source, message.event.type, message.event.specversion) == (
        APP_ID,
        "com.dapr.event.sent",
        "1.0",
    )
    assert (message.event.topic, message.event.pubsubname) == (topic, "pubsub")
    assert message.event.id
    assert message.event.time
    assert message.traceparent == TRACEPARENT


async def test_events_published_by_blockyard_reach_a_dapr_app(dapr: Dapr, yard: Any) -> None:
    pubsub = yard.pubsub("pubsub")
    order = uuid.uuid4().hex
    await pubsub.publish(TO_DAPR, {"order": order}, metadata={"traceparent": TRACEPARENT})
    await pubsub.publish(TO_DAPR, b"\x00\xff" + order.encode(), metadata={"cloudevent.id": f"bin-{order}"})

    def mine(deliveries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for d in deliveries:
            if d.get("data") == {"order": order}:
                found["json"] = d
            elif d.get("id") == f"bin-{order}":
                found["bytes"] = d
        return found

    deliveries = await asyncio.to_thread(dapr.app.wait_for, lambda ds: len(mine(ds)) == 2, WAIT)
    event, binary = mine(deliveries)["json"], mine(deliveries)["bytes"]
    assert (event["source"], event["type"], event["specversion"]) == (APP_ID, "com.dapr.event.sent", "1.0")
    assert (event["topic"], event["pubsubname"], event["datacontenttype"]) == (TO_DAPR, "pubsub", "application/json")
    assert event["traceparent"] == TRACEPARENT
    assert binary["datacontenttype"] == "application/octet-stream"
    assert base64.b64decode(binary["data_base64"]) == b"\x00\xff" + order.encode()

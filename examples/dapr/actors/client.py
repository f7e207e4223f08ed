"""The client: calls ``DemoActor`` through an actor proxy (Dapr Python SDK), then over plain HTTP on
daprd's port, and prints what it got as one JSON line.

Run by run.py with ``DAPR_HTTP_PORT`` set to the app's daprd.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import httpx
from dapr.actor import ActorId, ActorProxy
from demo_actor import DemoActorInterface


async def through_proxy(actor_id: str) -> dict[str, Any]:
    proxy = ActorProxy.create("DemoActor", ActorId(actor_id), DemoActorInterface)
    await proxy.SaveData({"from": "proxy", "n": 1})
    return {"got": await proxy.GetData()}


def over_http(actor_id: str) -> dict[str, Any]:
    base = f"http://127.0.0.1:{os.environ['DAPR_HTTP_PORT']}/v1.0/actors/DemoActor/{actor_id}/method"
    saved = httpx.post(f"{base}/SaveData", json={"from": "http", "n": 2}, timeout=60)
    got = httpx.post(f"{base}/GetData", timeout=60)
    return {"save_status": saved.status_code, "got": got.json()}


def main() -> None:
    proxy = asyncio.run(through_proxy("demo-1"))
    http = over_http("demo-2")
    # the proxy's actor seen over HTTP, and the HTTP actor through the proxy: one state store
    crossed = {
        "demo-1 over http": httpx.post(
            f"http://127.0.0.1:{os.environ['DAPR_HTTP_PORT']}/v1.0/actors/DemoActor/demo-1/method/GetData", timeout=60
        ).json(),
        "demo-2 through proxy": asyncio.run(
            ActorProxy.create("DemoActor", ActorId("demo-2"), DemoActorInterface).GetData()
        ),
    }
    print(json.dumps({"proxy": proxy, "http": http, "crossed": crossed}, sort_keys=True))


if __name__ == "__main__":
    main()

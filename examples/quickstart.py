"""Blockyard quick start: Dapr Component files, one async API. Run from the repository root:

    .venv/bin/python examples/quickstart.py

Swap ``state.sqlite`` for ``state.redis`` (and its metadata) in ``components/statestore.yaml`` and
this program runs unchanged against Redis.
"""

import asyncio

import blockyard
from blockyard.errors import ETagMismatchError


async def main() -> None:
    async with blockyard.open("examples/components/") as yard:  # secret stores first, then the rest
        store = yard.state("statestore")
        etag = await store.set("order-1", {"qty": 3})
        item = await store.get("order-1")
        print("read", item.json(), "etag", item.etag == etag)
        try:
            await store.set("order-1", {"qty": 4}, etag="stale")
        except ETagMismatchError:
            print("stale write refused")

        pubsub = yard.pubsub("pubsub")
        received = asyncio.Event()

        async def handle(message: blockyard.Message) -> None:
            print("handled", message.json())
            received.set()

        async with await pubsub.subscribe("orders", handle):
            await pubsub.publish("orders", {"id": 1})
            await asyncio.wait_for(received.wait(), 5)


if __name__ == "__main__":
    asyncio.run(main())

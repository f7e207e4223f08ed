"""``blockyard serve`` with two planted types registered, for the tests of the kit over a socket.

- ``state.etag-blind``: an in-memory store that ignores the ETag of a write (the kit must fail it);
- ``pubsub.slow-attach``: in-memory pub/sub whose subscriptions attach ``SLOW_ATTACH_S`` seconds
  late (messages published before then reach no one), as a broker binding a queue might.

Run as ``python planted_serve.py serve --type state.etag-blind --socket-folder DIR``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from typing import ClassVar

from blockyard.pubsub import SubscribeRequest
from blockyard.registry import get_registry, register
from blockyard.state import SetOp
from blockyard.subscription import Stopper
from blockyard_local.pubsub_memory import InMemoryPubSub
from blockyard_local.state_memory import InMemoryStateStore


class EtagBlindStore(InMemoryStateStore):
    """Declares ETAG, but every write wins, whatever ETag it carries."""

    type: ClassVar[str] = "state.etag-blind"

    async def _set(self, op: SetOp) -> str | None:
        return await super()._set(dataclasses.replace(op, etag=None))


class SlowAttachPubSub(InMemoryPubSub):
    """Subscriptions attach late."""

    type: ClassVar[str] = "pubsub.slow-attach"

    async def _subscribe(self, req: SubscribeRequest) -> Stopper:
        await asyncio.sleep(float(os.environ.get("SLOW_ATTACH_S", "3")))
        return await super()._subscribe(req)


if __name__ == "__main__":
    from blockyard.cli import main

    for planted, base in ((EtagBlindStore, InMemoryStateStore), (SlowAttachPubSub, InMemoryPubSub)):
        spec = get_registry().spec(base.type)
        name = planted.type.partition(".")[2]
        register(dataclasses.replace(spec, name=name, target=f"planted_serve:{planted.__name__}"))
    main()

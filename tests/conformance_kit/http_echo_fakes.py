"""Components kept in the launcher's in-memory http-echo server: a real backend that forgets.

The fault self-tests plant their defects on these: the server loses everything when it is killed or
restarted, so a component on it shows what the kit's durability and delivery scenarios catch. Each
stores a value at a path (``PUT``/``GET``/``DELETE /<path>``) over a real loopback connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from blockyard.errors import BackendUnavailableError, BlockyardError
from blockyard.metadata import ComponentMetadata, meta
from blockyard.pubsub import Message, PublishOp, PubSub, PubSubFeature, SubscribeRequest
from blockyard.state import Consistency, DeleteOp, SetOp, StateItem, StateStore
from blockyard.subscription import HandlerResult, Stopper

__all__ = ["CursorBroker", "HttpEchoBroker", "HttpEchoMetadata", "HttpEchoStore"]


class HttpEchoMetadata(ComponentMetadata):
    """Where the server is, and how long a read may take."""

    url: str = meta(description="the http-echo server")
    timeout: float | None = meta(5.0, description="read timeout in seconds (connect: 5 s); None: wait forever")


class _OnHttpEcho:
    """The client's lifecycle and error translation, shared by the store and the brokers."""

    meta: HttpEchoMetadata
    http: httpx.AsyncClient

    async def _init(self) -> None:
        read = self.meta.timeout
        timeout = httpx.Timeout(5.0, read=read) if read is not None else httpx.Timeout(None)
        self.http = httpx.AsyncClient(base_url=self.meta.url, timeout=timeout)

    async def _close(self) -> None:
        await self.http.aclose()

    def _translate_error(self, exc: BaseException) -> type[BlockyardError] | None:
        return BackendUnavailableError if isinstance(exc, httpx.TransportError) else None


class HttpEchoStore(_OnHttpEcho, StateStore):
    """Each item at ``/<key>``; no ETags, no TTL."""

    type: ClassVar[str] = "state.http-echo"
    Metadata = HttpEchoMetadata

    async def _get(self, key: str, consistency: Consistency | None, metadata: Mapping[str, str]) -> StateItem:
        resp = await self.http.get("/" + key)
        return StateItem(key, resp.content if resp.status_code == 200 else None)

    async def _set(self, op: SetOp) -> None:
        (await self.http.put("/" + op.key, content=op.value)).raise_for_status()

    async def _delete(self, op: DeleteOp) -> None:
        (await self.http.delete("/" + op.key)).raise_for_status()


class HttpEchoBroker(_OnHttpEcho, PubSub):
    """Message ``n`` of a topic at ``/<topic>/<n>``; a subscription reads them in order from 0, moving
    on once its handler did not ask for ``RETRY``. Where it got to lives only in the subscriber."""

    type: ClassVar[str] = "pubsub.http-echo"
    Metadata = HttpEchoMetadata
    features: ClassVar[frozenset[PubSubFeature]] = frozenset({PubSubFeature.REDELIVERY})
    pause_between_messages: ClassVar[float] = 0.0
    """Seconds a subscription waits after each message (slows delivery down against the publisher)."""

    async def _init(self) -> None:
        await super()._init()
        self.published: dict[str, int] = {}

    async def _publish(self, op: PublishOp) -> None:
        # numbered before the write, so that concurrent publishes each get their own
        n = self.published.get(op.topic, 0)
        self.published[op.topic] = n + 1
        (await self.http.put(f"/{op.topic}/{n}", content=op.data)).raise_for_status()

    async def _subscribe(self, req: SubscribeRequest) -> Stopper:
        async def poll() -> None:
            n = 0
            while True:
                message = await self._message(req.topic, n)
                if message is None:
                    await asyncio.sleep(0.02)
                    continue
                if await req.deliver(message) is not HandlerResult.RETRY:
                    n += 1
                await asyncio.sleep(self.pause_between_messages)

        return _stopper(asyncio.get_running_loop().create_task(poll()))

    async def _message(self, topic: str, n: int) -> Message | None:
        """Message ``n`` of ``topic``, or ``None`` while it is not there (or the server is unreachable)."""
        try:
            resp = await self.http.get(f"/{topic}/{n}")
        except httpx.TransportError:
            return None
        return Message(topic, resp.content, id=str(n)) if resp.status_code == 200 else None


class CursorBroker(HttpEchoBroker):
    """Like :class:`HttpEchoBroker`, but each consumer group's next message number is kept on the
    server at ``/<topic>/cursor-<group>`` and moved on once the handler is done with a message."""

    type: ClassVar[str] = "pubsub.http-echo-cursor"
    ack_on_receipt: ClassVar[bool] = False
    """Move the cursor on when a message is received, before its handler ran (a planted defect)."""

    async def _subscribe(self, req: SubscribeRequest) -> Stopper:
        cursor = f"/{req.topic}/cursor-{req.consumer_group}"

        async def poll() -> None:
            while True:
                resp = await self.http.get(cursor)
                n = int(resp.content) if resp.status_code == 200 else 0
                message = await self._message(req.topic, n)
                if message is None:
                    await asyncio.sleep(0.02)
                    continue
                if self.ack_on_receipt:
                    await self.http.put(cursor, content=str(n + 1).encode())
                if await req.deliver(message) is not HandlerResult.RETRY:
                    await self.http.put(cursor, content=str(n + 1).encode())

        return _stopper(asyncio.get_running_loop().create_task(poll()))


def _stopper(task: asyncio.Task[Any]) -> Stopper:
    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return stop

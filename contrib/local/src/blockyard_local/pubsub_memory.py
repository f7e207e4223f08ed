"""``pubsub.in-memory``: a message broker inside the process.

Messages live in the component's memory (nothing is shared between two instances, nothing
survives :meth:`close`), with the delivery guarantees of a real broker:

- **Consumer groups.** Subscriptions of one ``consumer_group`` (default: metadata ``consumerID``,
  else the component's name) compete for a topic's messages; every group gets every message.
- **Groups start at "now".** A group exists from its first subscription on and gets the messages
  published from then on; a message published while a topic has no group at all is discarded (as a
  broker topic without subscriptions discards it). A group outlives its subscriptions: messages
  published while it has no active subscriber wait for the next one, until the component closes.
- **Ordered.** One subscriber of a group gets a topic's messages in publish order. A message that
  is retried comes back *before* later ones (head-of-line), after ``redeliveryBackoff``.
- **At-least-once.** A handler that returns :attr:`~blockyard.subscription.HandlerResult.RETRY` or
  raises gets the message again after ``redeliveryBackoff`` (default 100ms), up to
  ``maxRedeliveries`` times (default 0 = no limit; past the limit the message is discarded with a
  warning). ``DROP`` acknowledges and discards it. A subscription cancelled while its handler runs
  does not acknowledge the message: the next subscriber of its group gets it.
- **Message TTL.** A message whose ``ttl`` passed before its delivery started is discarded.
- **Bulk.** ``bulk_publish`` enqueues every entry at once; ``bulk_subscribe`` hands over what is
  waiting, up to ``max_messages``, waiting at most ``max_await`` after the first message.

Every subscriber handles one message (or batch) at a time; add subscribers to a group to process
in parallel.

Example::

    import asyncio
    from blockyard_local.pubsub_memory import InMemoryPubSub

    async def main() -> None:
        async with InMemoryPubSub(name="bus") as bus:
            got = asyncio.Queue()

            async def handler(message):
                await got.put(message.json())

            await bus.subscribe("orders", handler, consumer_group="billing")
            await bus.publish("orders", {"id": 1})
            print(await got.get())

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar

from pydantic import Field

from blockyard.errors import BlockyardError
from blockyard.metadata import ComponentMetadata, Duration, meta
from blockyard.pubsub import (
    BulkPublisher,
    BulkSubscriber,
    BulkSubscribeRequest,
    Message,
    PublishOp,
    PubSubFeature,
    SubscribeRequest,
)
from blockyard.subscription import HandlerResult, Stopper

__all__ = ["InMemoryPubSub", "InMemoryPubSubMetadata"]


class InMemoryPubSubMetadata(ComponentMetadata):
    """Metadata of ``pubsub.in-memory`` (Dapr defines none; these are Blockyard's)."""

    consumer_id: str | None = meta(
        None, description="Default consumer group of the subscriptions.", alias="consumerID", example="billing"
    )
    redelivery_backoff: Duration = meta(
        timedelta(milliseconds=100), description="Delay before a retried message is delivered again.", example="1s"
    )
    max_redeliveries: int = Field(
        0,
        ge=0,
        description="How many times a message is redelivered before it is discarded; 0 means no limit.",
        json_schema_extra={"aliases": [], "deprecated": False, "example": "10"},
    )


@dataclass(slots=True)
class _Envelope:
    message: Message
    expires: float | None
    redeliveries: int = 0
    not_before: float = 0.0


@dataclass(slots=True)
class _Group:
    """One consumer group of one topic: its queue and the subscribers waiting on it."""

    queue: deque[_Envelope] = field(default_factory=deque)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def put(self, env: _Envelope) -> None:
        self.queue.append(env)
        self._wake()

    def put_front(self, envs: list[_Envelope]) -> None:
        self.queue.extendleft(reversed(envs))
        self._wake()

    def _wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def take(self, deadline: float | None = None) -> _Envelope | None:
        """The next deliverable message; ``None`` once ``deadline`` (monotonic) passed."""
        loop = asyncio.get_running_loop()
        while True:
            now = time.monotonic()
            queue = self.queue
            while queue and queue[0].expires is not None and queue[0].expires <= now:
                queue.popleft()  # its TTL passed before delivery
            delay: float | None = None
            if queue:
                if queue[0].not_before <= now:
                    return queue.popleft()
                delay = queue[0].not_before - now
            if deadline is not None:
                if deadline <= now:
                    return None
                delay = deadline - now if delay is None else min(delay, deadline - now)
            fut: asyncio.Future[None] = loop.create_future()
            self.waiters.append(fut)
            try:
                if delay is None:
                    await fut
                else:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await fut
            finally:
                if not fut.done():
                    fut.cancel()
                with contextlib.suppress(ValueError):
                    self.waiters.remove(fut)


@dataclass(slots=True)
class _Member:
    task: asyncio.Task[None] | None = None
    stopping: bool = False


class InMemoryPubSub(BulkPublisher, BulkSubscriber):
    """The ``pubsub.in-memory`` broker. See the module docstring."""

    type: ClassVar[str] = "pubsub.in-memory"
    Metadata = InMemoryPubSubMetadata
    features: ClassVar[frozenset[PubSubFeature]] = frozenset(
        {
            PubSubFeature.CONSUMER_GROUPS,
            PubSubFeature.ORDERED,
            PubSubFeature.REDELIVERY,
            PubSubFeature.BULK_PUBSUB,
            PubSubFeature.BULK_SUBSCRIBE,
            PubSubFeature.MESSAGE_TTL,
        }
    )

    _topics: dict[str, dict[str, _Group]]

    async def _init(self) -> None:
        self._topics = {}
        self._ids = itertools.count(1)
        self._backoff = self.meta.redelivery_backoff.total_seconds()
        self._max_redeliveries: int = self.meta.max_redeliveries

    async def _close(self) -> None:
        self._topics = {}

    async def _ping(self) -> None:
        return None

    # -- publishing --------------------------------------------------------------------------

    async def _publish(self, op: PublishOp) -> None:
        self._enqueue(op)

    async def _bulk_publish(self, ops: list[tuple[str, PublishOp]]) -> dict[str, BlockyardError]:
        for _, op in ops:
            self._enqueue(op)
        return {}

    def _enqueue(self, op: PublishOp) -> None:
        groups = self._topics.get(op.topic)
        if not groups:
            self.log.debug("component %r: no consumer group on topic %r; message discarded", self.name, op.topic)
            return
        msg_id = str(next(self._ids))
        expires = time.monotonic() + op.ttl if op.ttl else None
        for group in groups.values():
            message = Message(op.topic, op.data, dict(op.metadata), op.content_type, msg_id)
            group.put(_Envelope(message, expires))

    # -- subscribing -------------------------------------------------------------------------

    def _group(self, topic: str, name: str) -> _Group:
        return self._topics.setdefault(topic, {}).setdefault(name, _Group())

    def _start(self, member: _Member, run: Callable[[], Coroutine[None, None, None]]) -> Stopper:
        member.task = asyncio.get_running_loop().create_task(run())

        async def stop() -> None:
            member.stopping = True
            task = member.task
            if task is None or task is asyncio.current_task():
                return  # cancelled from its own handler: it stops after the handler returns
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        return stop

    async def _subscribe(self, req: SubscribeRequest) -> Stopper:
        group = self._group(req.topic, req.consumer_group)
        member = _Member()

        async def run() -> None:
            env: _Envelope | None = None
            try:
                while not member.stopping:
                    env = await group.take()
                    assert env is not None
                    result = await req.deliver(env.message)
                    self._settle(group, env, result)
                    env = None
            except asyncio.CancelledError:
                if env is not None:
                    group.put_front([env])  # interrupted: not acknowledged
                raise

        return self._start(member, run)

    async def _bulk_subscribe(self, req: BulkSubscribeRequest) -> Stopper:
        group = self._group(req.topic, req.consumer_group)
        member = _Member()
        max_await = req.max_await.total_seconds()

        async def run() -> None:
            batch: list[_Envelope] = []
            try:
                while not member.stopping:
                    first = await group.take()
                    assert first is not None
                    batch = [first]
                    deadline = time.monotonic() + max_await
                    while len(batch) < req.max_messages:
                        env = await group.take(deadline)
                        if env is None:
                            break
                        batch.append(env)
                    results = await req.deliver_batch([e.message for e in batch])
                    retry = [e for e in batch if self._retry(e, results.get(e.message.id or ""))]
                    batch = []
                    if retry:
                        group.put_front(retry)
            except asyncio.CancelledError:
                if batch:
                    group.put_front(batch)
                raise

        return self._start(member, run)

    def _settle(self, group: _Group, env: _Envelope, result: HandlerResult) -> None:
        if self._retry(env, result):
            group.put_front([env])

    def _retry(self, env: _Envelope, result: HandlerResult | None) -> bool:
        """Decide what happens to a handled message; True if it must be delivered again."""
        if result is not HandlerResult.RETRY:
            return False
        env.redeliveries += 1
        if self._max_redeliveries and env.redeliveries > self._max_redeliveries:
            self.log.warning(
                "component %r: message %s on topic %r discarded after %d redeliveries",
                self.name,
                env.message.id,
                env.message.topic,
                self._max_redeliveries,
            )
            return False
        env.not_before = time.monotonic() + self._backoff
        return True

"""``pubsub.redis``: publish/subscribe on Redis Streams, at-least-once, with consumer groups.

Features: CONSUMER_GROUPS, REDELIVERY, BULK_PUBSUB, MESSAGE_TTL (not ORDERED: a retried message
comes back after later ones).

- A topic is a stream; ``publish`` is one ``XADD`` of ``data``, ``metadata`` (JSON, when any),
  ``contentType`` (when given) and ``expireAt`` (Unix ms, with a TTL), trimmed by ``maxLenApprox``
  (``MAXLEN ~``) or ``streamTTL`` (``MINID ~``). ``bulk_publish`` sends its XADDs in one pipeline.
- A consumer group (``consumer_group=``, default the ``consumerID`` metadata, else the component
  name) is a Redis consumer group created at the start of the stream: subscriptions of one group
  compete, different groups each get every message. Every subscription is a consumer of its own.
- Delivery: a reader ``XREADGROUP``s on a connection of its own into a queue of ``queueDepth``;
  ``concurrency`` workers run the handler. A message is ``XACK``ed only after the handler returned
  success or DROP; after RETRY, an exception, or a crash/cancel of its subscriber, it stays pending
  and is claimed again (``XAUTOCLAIM``) once idle for ``processingTimeout``, checked every
  ``redeliverInterval`` by every subscriber of the group. Setting either to 0 turns redelivery off
  (the component then does not declare REDELIVERY).
- A message published with a TTL that is still undelivered after it expires is acknowledged and
  discarded instead of delivered.
- Connection loss: publishers get :class:`~blockyard.errors.BackendUnavailableError` once redis-py's
  retries are spent; subscribers log it and reconnect with exponential backoff, recreating their
  group if the server came back empty.
- ``Subscription.cancel()`` stops at once: the reader and workers are cancelled, a handler in
  progress is interrupted and its message left pending for redelivery.

Wire format: Dapr's Redis Streams component's. ``data`` holds the CloudEvent JSON daprd writes
(:mod:`blockyard.envelope`) and ``metadata`` the publish metadata as JSON; consumer groups are
created at the start of the stream, as Dapr creates them. A Dapr app and a Blockyard app read each
other's messages (proven against daprd's built-in component). Not identical: Blockyard adds the
fields ``contentType`` and ``expireAt``, which Dapr ignores, so a message TTL is honoured by
Blockyard subscribers only (daprd's Redis component has no message TTL; a Dapr publisher puts
its TTL in the event's ``expiration`` instead, which Blockyard keeps in ``Message.event.extensions``).

Example::

    import asyncio
    from blockyard_redis.pubsub import RedisPubSub

    async def main() -> None:
        async with RedisPubSub({"redisHost": "localhost:6379", "consumerID": "orders"}) as broker:
            async def handle(message):
                print(message.topic, message.json())      # return None = success = XACK

            async with await broker.subscribe("orders", handle):
                await broker.publish("orders", {"id": 1})
                await asyncio.sleep(0.5)

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import timedelta
from typing import Any, ClassVar, Self

import orjson
from pydantic import field_validator, model_validator

from blockyard.errors import BlockyardError
from blockyard.metadata import Duration, meta
from blockyard.pubsub import BulkPublisher, HandlerResult, Message, PublishOp, PubSubFeature, SubscribeRequest
from blockyard.subscription import Stopper
from blockyard_redis.connection import RedisClientMixin, RedisConnectionMetadata, redis_error_class

__all__ = ["RedisPubSub", "RedisPubSubMetadata"]

_BLOCK_MS = 1000
_BACKOFF_START = 0.05
_BACKOFF_CAP = 2.0


class RedisPubSubMetadata(RedisConnectionMetadata):
    """Metadata of ``pubsub.redis``: the connection plus consumer and stream settings."""

    consumer_id: str | None = meta(
        None, description="default consumer group of subscriptions (else the component name)", alias="consumerID"
    )
    redeliver_interval: Duration = meta(
        timedelta(seconds=60), description="how often pending messages are checked for redelivery (0: never)"
    )
    processing_timeout: Duration = meta(
        timedelta(seconds=15), description="how long a message stays pending before it is redelivered (0: never)"
    )
    queue_depth: int = meta(100, description="messages read ahead per subscription")
    concurrency: int = meta(10, description="handlers running at once per subscription")
    max_len_approx: int | None = meta(None, description="trim each stream to about this many entries (MAXLEN ~)")
    stream_ttl: Duration | None = meta(
        None, description="trim entries older than this from each stream on publish (MINID ~)", alias="streamTTL"
    )

    @field_validator("queue_depth", "concurrency", "max_len_approx")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError("expected an integer >= 1")
        return value

    @model_validator(mode="after")
    def _one_trim(self) -> Self:
        if self.max_len_approx is not None and self.stream_ttl is not None:
            raise ValueError("field 'maxLenApprox' and field 'streamTTL' cannot be used together; choose one")
        return self


class RedisPubSub(RedisClientMixin, BulkPublisher):
    """Pub/sub on Redis Streams; see the module docstring for the delivery guarantees."""

    type: ClassVar[str] = "pubsub.redis"
    Metadata = RedisPubSubMetadata
    features: ClassVar[frozenset[PubSubFeature]] = frozenset(
        {
            PubSubFeature.CONSUMER_GROUPS,
            PubSubFeature.REDELIVERY,
            PubSubFeature.BULK_PUBSUB,
            PubSubFeature.MESSAGE_TTL,
        }
    )

    def __init__(self, metadata: Any = None, *, name: str | None = None) -> None:
        super().__init__(metadata, name=name)
        md: RedisPubSubMetadata = self.meta
        if not md.redeliver_interval or not md.processing_timeout:
            self._narrow_features(type(self).features - {PubSubFeature.REDELIVERY})
        if md.max_len_approx is not None:
            self._trim: tuple[Any, ...] = ("MAXLEN", "~", md.max_len_approx)
        else:
            self._trim = ()
        self._trim_ms = int(md.stream_ttl.total_seconds() * 1000) if md.stream_ttl else 0

    # -- publishing ------------------------------------------------------------------------------

    def _xadd(self, op: PublishOp) -> list[Any]:
        args: list[Any] = ["XADD", op.topic]
        if self._trim:
            args += self._trim
        elif self._trim_ms:
            args += ("MINID", "~", int(time.time() * 1000) - self._trim_ms)
        args += ("*", "data", op.data)
        if op.metadata:
            args += ("metadata", orjson.dumps(dict(op.metadata)))
        if op.content_type:
            args += ("contentType", op.content_type)
        if op.ttl:
            args += ("expireAt", int(time.time() * 1000) + op.ttl * 1000)
        return args

    async def _publish(self, op: PublishOp) -> None:
        await self._client.execute_command(*self._xadd(op))

    async def _bulk_publish(self, ops: list[tuple[str, PublishOp]]) -> dict[str, BlockyardError]:
        pipe = self._client.pipeline(transaction=False)
        for _, op in ops:
            pipe.execute_command(*self._xadd(op))
        results = await pipe.execute(raise_on_error=False)
        errors: dict[str, BlockyardError] = {}
        for (entry_id, op), res in zip(ops, results, strict=True):
            if isinstance(res, Exception):
                errors[entry_id] = self._wrap(res, "bulk_publish", op.topic)
        return errors

    # -- subscribing ----------------------------------------------------------------------------

    async def _subscribe(self, req: SubscribeRequest) -> Stopper:
        consumer = _StreamConsumer(self, req)
        await consumer.start()
        return consumer.stop


class _StreamConsumer:
    """One subscription: a consumer of its own in the group, with reader, workers and reclaimer."""

    def __init__(self, owner: RedisPubSub, req: SubscribeRequest) -> None:
        md: RedisPubSubMetadata = owner.meta
        self._owner = owner
        self._client = owner._client
        self._log = owner.log
        self._req = req
        self._topic = req.topic
        self._group = req.consumer_group
        self._consumer = f"{req.consumer_group}-{uuid.uuid4().hex[:12]}"
        self._queue: asyncio.Queue[tuple[bytes, dict[bytes, bytes] | None]] = asyncio.Queue(md.queue_depth)
        self._local: set[bytes] = set()  # ids queued or being handled here
        self._depth = md.queue_depth
        self._concurrency = md.concurrency
        self._redeliver = md.redeliver_interval.total_seconds()
        self._idle_ms = int(md.processing_timeout.total_seconds() * 1000)
        self._reader: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self._ensure_group()
        self._reader = self._owner._make_dedicated_client(extra_timeout=_BLOCK_MS / 1000)
        loop = asyncio.get_running_loop()
        name = f"{self._owner.name}:{self._topic}"
        self._tasks.append(loop.create_task(self._read_loop(), name=f"{name}:reader"))
        self._tasks += [loop.create_task(self._work_loop(), name=f"{name}:worker{i}") for i in range(self._concurrency)]
        if self._redeliver > 0 and self._idle_ms > 0:
            self._tasks.append(loop.create_task(self._reclaim_loop(), name=f"{name}:reclaimer"))

    async def stop(self) -> None:
        # Cancel until every task has ended: on Python < 3.12 asyncio.Condition.wait() (in redis-py's
        # BlockingConnectionPool) can swallow a cancellation that races with a notify (CPython gh-112202).
        pending = set(self._tasks)
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.05)
        self._tasks = []
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader.aclose()
            self._reader = None
        await self._forget_consumer()

    async def _forget_consumer(self) -> None:
        """Delete this consumer from the group when nothing is pending on it (else keep it for reclaim)."""
        if self._owner._client is None:
            return
        try:
            pending = await self._client.xpending_range(self._topic, self._group, "-", "+", 1, self._consumer)
            if not pending:
                await self._client.xgroup_delconsumer(self._topic, self._group, self._consumer)
        except Exception as exc:
            self._log.debug("component %r: could not remove consumer (%s)", self._owner.name, type(exc).__name__)

    async def _ensure_group(self) -> None:
        from redis.exceptions import ResponseError

        try:
            await self._client.xgroup_create(self._topic, self._group, id="0", mkstream=True)
        except ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise

    async def _recover(self, exc: BaseException, what: str, backoff: float) -> float:
        """Log a failure of a background loop, recreate a vanished group, wait; return the next backoff."""
        if "NOGROUP" in str(exc):
            with contextlib.suppress(Exception):
                await self._ensure_group()
            return _BACKOFF_START
        level = "connection" if redis_error_class(exc) is not None else "error"
        self._log.warning(
            "component %r: %s on topic %r failed (%s %s); retrying in %.2fs",
            self._owner.name,
            what,
            self._topic,
            level,
            type(exc).__name__,
            backoff,
        )
        await asyncio.sleep(backoff)
        return min(backoff * 2, _BACKOFF_CAP)

    async def _read_loop(self) -> None:
        backoff = _BACKOFF_START
        streams = {self._topic: ">"}
        while True:
            try:
                response = await self._reader.xreadgroup(
                    self._group, self._consumer, streams, count=self._depth, block=_BLOCK_MS
                )
                backoff = _BACKOFF_START
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                backoff = await self._recover(exc, "reading", backoff)
                continue
            for _stream, entries in response or ():
                for msg_id, fields in entries:
                    self._local.add(msg_id)
                    await self._queue.put((msg_id, fields))

    async def _reclaim_loop(self) -> None:
        backoff = _BACKOFF_START
        while True:
            await asyncio.sleep(self._redeliver)
            start: Any = "0-0"
            try:
                while True:
                    response = await self._client.xautoclaim(
                        self._topic, self._group, self._consumer, self._idle_ms, start_id=start, count=self._depth
                    )
                    start, claimed = response[0], response[1]
                    for msg_id, fields in claimed:
                        if msg_id is not None and msg_id not in self._local:
                            self._local.add(msg_id)
                            await self._queue.put((msg_id, fields))
                    if start in (b"0-0", "0-0"):
                        break
                backoff = _BACKOFF_START
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                backoff = await self._recover(exc, "redelivery", backoff)

    async def _work_loop(self) -> None:
        deliver = self._req.deliver
        topic = self._topic
        while True:
            msg_id, fields = await self._queue.get()
            try:
                if fields is None or _expired(fields):
                    result = HandlerResult.DROP  # trimmed from the stream, or its TTL passed
                else:
                    result = await deliver(_message(topic, msg_id, fields))
                if result is not HandlerResult.RETRY:
                    await self._ack(msg_id)
            finally:
                self._local.discard(msg_id)

    async def _ack(self, msg_id: bytes) -> None:
        try:
            await self._client.execute_command("XACK", self._topic, self._group, msg_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Left pending: it will be redelivered after processingTimeout (at-least-once).
            self._log.warning(
                "component %r: could not acknowledge message %s on topic %r (%s); it will be redelivered",
                self._owner.name,
                msg_id.decode(),
                self._topic,
                type(exc).__name__,
            )


def _expired(fields: dict[bytes, bytes]) -> bool:
    expire_at = fields.get(b"expireAt")
    return expire_at is not None and int(expire_at) <= time.time() * 1000


def _message(topic: str, msg_id: bytes, fields: dict[bytes, bytes]) -> Message:
    raw_md = fields.get(b"metadata")
    metadata: dict[str, str] = {}
    if raw_md:
        try:
            decoded = orjson.loads(raw_md)
            if isinstance(decoded, dict):
                metadata = {str(k): str(v) for k, v in decoded.items()}
        except orjson.JSONDecodeError:
            pass
    ct = fields.get(b"contentType")
    return Message(topic, fields.get(b"data", b""), metadata, ct.decode() if ct else None, msg_id.decode())

"""The pub/sub contract.

- ``publish(topic, data)`` returns once the broker has the message (bytes kept, anything else
  JSON-encoded). Publishing after ``close()`` raises :class:`~blockyard.errors.ComponentClosedError`.
- ``subscribe(topic, handler)`` returns a :class:`~blockyard.subscription.Subscription` promptly;
  messages arrive on background tasks until it is cancelled. Cancelling one subscription leaves the
  others running; ``close()`` cancels them all.
- A handler returns ``None`` / :attr:`HandlerResult.SUCCESS` (acknowledge),
  :attr:`HandlerResult.RETRY` (deliver again), :attr:`HandlerResult.DROP` (acknowledge and
  discard), or raises (same as ``RETRY``; logged without the payload).
- Consumer groups: subscriptions with the same ``consumer_group`` (default: the component's
  ``consumerID``, else its name) compete for messages; different groups each get every message
  (:attr:`PubSubFeature.CONSUMER_GROUPS`).
- Delivery is at-least-once where :attr:`PubSubFeature.REDELIVERY` is declared: a message is
  acknowledged only after its handler succeeded or dropped it; a retried or interrupted one comes
  back. Without it, a failed message may be lost (it is logged).
- Dead-letter topic (``subscribe(..., dead_letter_topic=)``, Dapr's ``deadLetterTopic``): a message
  whose final outcome is a failure is published, unchanged, to that topic on the same component and
  then acknowledged; see :meth:`PubSub.subscribe` for exactly when.
- Message TTL (``ttl=`` or metadata ``ttlInSeconds``) needs :attr:`PubSubFeature.MESSAGE_TTL`.
- On the wire every message is a CloudEvents 1.0 envelope written as daprd writes it
  (:mod:`blockyard.envelope`); request metadata ``rawPayload: "true"`` sends / receives the bare
  payload. Handlers get the payload in ``Message.data`` and the attributes in ``Message.event``.

A plugin implements ``_publish`` and ``_subscribe``; ``_subscribe`` calls ``req.deliver(message)``
for each message, which runs the user's handler (then the dead-letter hand-off) and returns the
:class:`HandlerResult` to act on. A plugin that retries a failed message itself, up to a limit,
calls ``req.attempt(message)`` for each try and ``req.give_up(message, result)`` once its retries
are spent (see :class:`SubscribeRequest`).
"""

from __future__ import annotations

import abc
import asyncio
import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from blockyard import telemetry
from blockyard.component import ComponentKind
from blockyard.envelope import (
    CLOUDEVENT_CONTENT_TYPE,
    CloudEvent,
    is_raw_payload,
    raw_event,
    unwrap,
    with_trace_context,
    wrap,
)
from blockyard.errors import BlockyardError, InvalidRequestError
from blockyard.subscription import HandlerResult, Stopper, Subscription, SubscriptionOwner, coerce_result, guard
from blockyard.ttl import request_ttl
from blockyard.values import decode_json, encode_value

__all__ = [
    "BulkHandler",
    "BulkPublishEntry",
    "BulkPublisher",
    "BulkSubscribeRequest",
    "BulkSubscriber",
    "CloudEvent",
    "Handler",
    "HandlerResult",
    "Message",
    "PubSub",
    "PubSubFeature",
    "PublishOp",
    "SubscribeRequest",
    "Subscription",
]


class PubSubFeature(enum.StrEnum):
    """Optional capabilities of a pub/sub component (Dapr's names, plus Blockyard's own)."""

    MESSAGE_TTL = "MESSAGE_TTL"
    """A message not delivered within its TTL is discarded."""
    SUBSCRIBE_WILDCARDS = "SUBSCRIBE_WILDCARDS"
    """Topics in ``subscribe`` may hold the broker's wildcards."""
    BULK_PUBSUB = "BULK_PUBSUB"
    """``bulk_publish`` sends many messages in one round trip."""
    BULK_SUBSCRIBE = "BULK_SUBSCRIBE"
    """``bulk_subscribe`` hands the handler batches of messages (Blockyard's)."""
    REDELIVERY = "REDELIVERY"
    """At-least-once: a retried, failed or interrupted message is delivered again (Blockyard's)."""
    ORDERED = "ORDERED"
    """One subscriber of a group gets a topic's messages in publish order (Blockyard's)."""
    CONSUMER_GROUPS = "CONSUMER_GROUPS"
    """Same group: competing consumers; different groups: fan-out (Blockyard's)."""


@dataclass(slots=True)
class Message:
    """A delivered message.

    A handler gets the event's payload in ``data`` (bytes, as published), its content type in
    ``content_type``, and the CloudEvent attributes (``id``, ``source``, ``type``, ``time``,
    ``subject``, ...) in ``event``. A payload that was not a CloudEvent (a non-Dapr producer, or a
    ``rawPayload`` subscription) comes with the event daprd would make up for it: a fresh ``id``,
    source ``"Dapr"``, content type ``application/octet-stream``.

    Trace context: ``traceparent`` / ``tracestate`` are the W3C trace context the producer put in
    the event (publish metadata ``traceparent`` / ``tracestate``), else the message metadata's,
    else ``None``. A producer sends its context by putting ``traceparent`` / ``tracestate`` in the
    publish metadata (the envelope is built from it in ``publish``); a consumer continues the
    producer's trace from these two properties.

    A plugin builds a message from what the broker returned (``data`` = the raw bytes, ``event``
    unset); the base class opens the envelope before the handler runs.
    """

    topic: str
    data: bytes
    metadata: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    id: str | None = None
    """The broker's id for the message (stream id, offset, delivery tag...), when it has one."""
    event: CloudEvent | None = None
    """The CloudEvent attributes (set before the handler runs)."""

    def json(self) -> Any:
        """The payload decoded as JSON."""
        return decode_json(self.data)

    @property
    def traceparent(self) -> str | None:
        """The producer's W3C ``traceparent``, when it sent one."""
        if self.event is not None and self.event.traceparent:
            return self.event.traceparent
        return self.metadata.get("traceparent") or None

    @property
    def tracestate(self) -> str | None:
        """The producer's W3C ``tracestate``, when it sent one."""
        if self.event is not None and self.event.tracestate:
            return self.event.tracestate
        return self.metadata.get("tracestate") or None


@dataclass(slots=True)
class PublishOp:
    """A validated publish as a plugin receives it; ``ttl`` is ``None`` or positive seconds."""

    topic: str
    data: bytes
    metadata: Mapping[str, str]
    content_type: str | None
    ttl: int | None

    def add_trace_context(self, carrier: Mapping[str, str]) -> None:
        """Carry ``carrier`` (W3C ``traceparent``/``tracestate``) in the metadata and, for a
        CloudEvent, in the event itself, where Dapr apps read it."""
        self.metadata = {**self.metadata, **carrier}
        if self.content_type == CLOUDEVENT_CONTENT_TYPE:
            self.data = with_trace_context(self.data, carrier)


@dataclass(slots=True)
class BulkPublishEntry:
    """One message of ``bulk_publish``; ``entry_id`` names it in a :class:`BulkError`."""

    entry_id: str
    data: Any
    metadata: Mapping[str, str] | None = None
    content_type: str | None = None


Handler = Callable[[Message], Awaitable[HandlerResult | None]]
BulkHandler = Callable[[list[Message]], Awaitable[Mapping[str, HandlerResult] | None]]
"""Gets a batch; returns results by ``Message.id`` (ids left out succeeded), or ``None``."""
Deliver = Callable[[Message], Awaitable[HandlerResult]]
GiveUp = Callable[[Message, HandlerResult], Awaitable[HandlerResult]]
"""The dead-letter hand-off of a message's final outcome (see :class:`SubscribeRequest`)."""


async def _keep(message: Message, result: HandlerResult) -> HandlerResult:
    return result


async def _unset(message: Message) -> HandlerResult:  # replaced by ``deliver`` in __post_init__
    raise NotImplementedError


async def _unset_batch(messages: list[Message]) -> dict[str, HandlerResult]:  # likewise
    raise NotImplementedError


@dataclass(slots=True)
class SubscribeRequest:
    """What a plugin's ``_subscribe`` receives.

    ``deliver`` is ``give_up(message, await attempt(message))``: a plugin calls it when the outcome
    of a delivery is final (it redelivers a ``RETRY`` later as a new delivery). A plugin that
    retries a failed message itself before moving on calls ``attempt`` for each try and
    ``give_up`` with the last outcome once its retries are spent; with a ``dead_letter_topic``
    and no limit of its own, it calls ``give_up`` after the first failed ``attempt``.
    """

    topic: str
    consumer_group: str
    metadata: Mapping[str, str]
    deliver: Deliver
    """Runs the user's handler, then ``give_up``; never raises; returns what to do with the message."""
    attempt: Deliver = _unset
    """Runs the user's handler only (the inbound resiliency policy included); never raises."""
    give_up: GiveUp = _keep
    """Given a message (as the broker returned it) and its final outcome: with a dead-letter topic,
    a ``RETRY`` or ``DROP`` is published there and becomes ``SUCCESS`` (``RETRY`` if that publish
    failed); without one, or for ``SUCCESS``, the outcome is returned unchanged. Never raises."""
    dead_letter_topic: str | None = None
    """The subscription's dead-letter topic, if any."""

    def __post_init__(self) -> None:
        if self.attempt is _unset:
            self.attempt = self.deliver


@dataclass(slots=True)
class BulkSubscribeRequest:
    """What a plugin's ``_bulk_subscribe`` receives."""

    topic: str
    consumer_group: str
    metadata: Mapping[str, str]
    max_messages: int
    max_await: timedelta
    deliver_batch: Callable[[list[Message]], Awaitable[dict[str, HandlerResult]]]
    """Runs the user's bulk handler, then ``give_up`` for each message; never raises; returns a
    result for every message id."""
    attempt_batch: Callable[[list[Message]], Awaitable[dict[str, HandlerResult]]] = _unset_batch
    """Runs the user's bulk handler only; never raises (see :class:`SubscribeRequest`)."""
    give_up: GiveUp = _keep
    """As :attr:`SubscribeRequest.give_up`, for one message of a batch."""
    dead_letter_topic: str | None = None
    """The subscription's dead-letter topic, if any."""

    def __post_init__(self) -> None:
        if self.attempt_batch is _unset_batch:
            self.attempt_batch = self.deliver_batch


_EMPTY: Mapping[str, str] = {}


class PubSub(SubscriptionOwner, abc.ABC):
    """A publish/subscribe broker. See the module docstring for the guaranteed semantics."""

    kind: ClassVar[ComponentKind] = ComponentKind.PUBSUB
    features: ClassVar[frozenset[PubSubFeature]] = frozenset()
    feature_mixins: ClassVar[Mapping[enum.StrEnum, str]] = {
        PubSubFeature.BULK_PUBSUB: "BulkPublisher",
        PubSubFeature.BULK_SUBSCRIBE: "BulkSubscriber",
    }

    @property
    def default_consumer_group(self) -> str:
        """The group used when ``subscribe`` gets none: metadata ``consumerID``, else the name."""
        return getattr(self.meta, "consumer_id", None) or self.name

    async def publish(
        self,
        topic: str,
        data: Any,
        *,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
        ttl: int | None = None,
    ) -> None:
        """Publish one message; returns when the broker has it.

        :raises InvalidRequestError: empty topic, bad TTL, unserialisable data.
        :raises NotSupportedError: a TTL without :attr:`PubSubFeature.MESSAGE_TTL`.
        :raises ComponentClosedError: after ``close()``.
        """
        self._check_ready("publish")
        op = self._publish_op(topic, data, metadata, content_type, ttl)
        await self._call_hook("publish", topic, self._publish(op), outgoing=(op,))

    async def subscribe(
        self,
        topic: str,
        handler: Handler,
        *,
        consumer_group: str | None = None,
        metadata: Mapping[str, str] | None = None,
        dead_letter_topic: str | None = None,
    ) -> Subscription:
        """Start delivering ``topic`` to ``handler``; return once the subscription is set up.

        Dead-lettering (``dead_letter_topic``, Dapr's ``deadLetterTopic``): a delivery's outcome is
        final once the handler has run under the inbound resiliency policy, if any (its retries
        spent), and -- for a component that retries a failed message itself up to a limit, such
        as Kafka's ``backOffMaxRetries`` -- once those retries are spent too. A final ``RETRY``
        (or exception) or a ``DROP`` (as in Dapr) is then published to ``dead_letter_topic`` on
        this component: the same bytes as received (so a CloudEvent keeps its ``id``, attributes
        and data byte-exact), with its content type and without the broker's metadata. Once the
        broker has it, the message is acknowledged (``SUCCESS``); if that publish fails, it is not
        (``RETRY``: delivered again later, nothing lost; Dapr acknowledges it anyway). Without a
        dead-letter topic, a ``RETRY`` is redelivered and a ``DROP`` discarded as always.

        :raises InvalidRequestError: empty topic, or ``dead_letter_topic`` empty or equal to ``topic``.
        """
        self._check_ready("subscribe")
        self._check_topic(topic)
        self._check_dead_letter_topic(topic, dead_letter_topic)
        group = consumer_group or self.default_consumer_group
        md = metadata or _EMPTY
        attempt = self._deliverer(handler, topic, md)
        give_up = self._dead_letterer(topic, dead_letter_topic)
        if dead_letter_topic is None:
            deliver = attempt
        else:

            async def deliver(message: Message) -> HandlerResult:
                return await give_up(message, await attempt(message))

        req = SubscribeRequest(topic, group, md, deliver, attempt, give_up, dead_letter_topic)
        stopper = await self._call_hook("subscribe", topic, self._subscribe(req))
        return self._track(Subscription(topic, group, stopper, self))

    async def bulk_publish(
        self, topic: str, entries: Sequence[BulkPublishEntry], *, metadata: Mapping[str, str] | None = None
    ) -> None:
        """Publish many messages (needs :attr:`PubSubFeature.BULK_PUBSUB`).

        :raises BulkError: naming each failed ``entry_id``; the other entries were published.
        """
        self._check_ready("bulk_publish")
        if PubSubFeature.BULK_PUBSUB not in self.features:
            raise self._unsupported(PubSubFeature.BULK_PUBSUB, "bulk_publish")
        self._check_topic(topic)
        shared = metadata or _EMPTY

        def prepare(e: BulkPublishEntry) -> tuple[str, PublishOp]:
            md = {**shared, **e.metadata} if e.metadata else shared
            return e.entry_id, self._publish_op(topic, e.data, md, e.content_type, None)

        await self._run_bulk(
            "bulk_publish",
            [(e.entry_id, e) for e in entries],
            prepare,
            self._bulk_publish,
            key=topic,
            sends=lambda ops: [op for _, op in ops],
        )

    async def _bulk_publish(self, ops: list[tuple[str, PublishOp]]) -> dict[str, BlockyardError]:
        """Publish every op; return the per-entry errors. Default: ``_publish`` each, concurrently."""

        async def one(entry_id: str, op: PublishOp) -> tuple[str, BlockyardError | None]:
            try:
                await self._publish(op)
            except Exception as exc:
                return entry_id, self._wrap(exc, "bulk_publish", op.topic)
            return entry_id, None

        results = await asyncio.gather(*(one(i, op) for i, op in ops))
        return {i: e for i, e in results if e is not None}

    async def bulk_subscribe(
        self,
        topic: str,
        handler: BulkHandler,
        *,
        consumer_group: str | None = None,
        max_messages: int = 100,
        max_await: timedelta = timedelta(seconds=1),
        metadata: Mapping[str, str] | None = None,
        dead_letter_topic: str | None = None,
    ) -> Subscription:
        """Deliver batches of messages (needs :attr:`PubSubFeature.BULK_SUBSCRIBE`).

        ``dead_letter_topic``: each message of a batch whose final outcome is ``RETRY`` or ``DROP``
        is dead-lettered on its own, as in :meth:`subscribe`.

        :raises InvalidRequestError: as :meth:`subscribe`; ``max_messages`` below 1.
        """
        self._check_ready("bulk_subscribe")
        if PubSubFeature.BULK_SUBSCRIBE not in self.features:
            raise self._unsupported(PubSubFeature.BULK_SUBSCRIBE, "bulk_subscribe")
        self._check_topic(topic)
        self._check_dead_letter_topic(topic, dead_letter_topic)
        if max_messages < 1:
            raise InvalidRequestError("max_messages must be at least 1", component=self.name, key=topic)
        group = consumer_group or self.default_consumer_group
        md = metadata or _EMPTY
        attempt = self._batch_deliverer(handler, topic, md)
        give_up = self._dead_letterer(topic, dead_letter_topic)
        if dead_letter_topic is None:
            deliver = attempt
        else:

            async def deliver(messages: list[Message]) -> dict[str, HandlerResult]:
                results = await attempt(messages)
                for i, m in enumerate(messages):
                    key = m.id or str(i)
                    results[key] = await give_up(m, results[key])
                return results

        req = BulkSubscribeRequest(
            topic, group, md, max_messages, max_await, deliver, attempt, give_up, dead_letter_topic
        )
        stopper = await self._call_hook("bulk_subscribe", topic, self._bulk_subscribe(req))
        return self._track(Subscription(topic, group, stopper, self))

    async def _bulk_subscribe(self, req: BulkSubscribeRequest) -> Stopper:
        """Deliver batches; the default batches what ``_subscribe`` delivers (see :class:`BulkSubscriber`)."""
        batcher = _Batcher(req)
        stop = await self._subscribe(SubscribeRequest(req.topic, req.consumer_group, req.metadata, batcher.deliver))

        async def stopper() -> None:
            await stop()
            await batcher.close()

        return stopper

    def _batch_deliverer(
        self, handler: BulkHandler, topic: str, metadata: Mapping[str, str]
    ) -> Callable[[list[Message]], Awaitable[dict[str, HandlerResult]]]:
        log, name = self.log, self.name
        opened = self._opener(metadata)

        def ids(messages: list[Message]) -> list[str]:
            return [m.id or str(i) for i, m in enumerate(messages)]

        def results(messages: list[Message], raw: Mapping[str, HandlerResult] | None) -> dict[str, HandlerResult]:
            return {i: coerce_result((raw or {}).get(i)) for i in ids(messages)}

        def failed(messages: list[Message], exc: Exception) -> dict[str, HandlerResult]:
            log.warning("component %r: bulk handler for %r failed (%s)", name, topic, type(exc).__name__)
            return dict.fromkeys(ids(messages), HandlerResult.RETRY)

        run = guard(handler, results, failed)

        async def deliver(messages: list[Message]) -> dict[str, HandlerResult]:
            return await run([opened(m) for m in messages])

        return deliver

    # -- plugin hooks ------------------------------------------------------------------------

    @abc.abstractmethod
    async def _publish(self, op: PublishOp) -> None:
        """Send one message; return when the broker has it."""

    @abc.abstractmethod
    async def _subscribe(self, req: SubscribeRequest) -> Stopper:
        """Set up delivery and return a coroutine function that stops it."""

    # -- helpers -----------------------------------------------------------------------------

    def _check_topic(self, topic: Any) -> None:
        if not isinstance(topic, str) or not topic:
            raise InvalidRequestError(f"topic must be a non-empty string, got {topic!r}", component=self.name)

    def _check_dead_letter_topic(self, topic: str, dead_letter_topic: Any) -> None:
        if dead_letter_topic is None:
            return
        if not isinstance(dead_letter_topic, str) or not dead_letter_topic:
            raise InvalidRequestError(
                f"dead_letter_topic must be a non-empty string, got {dead_letter_topic!r}",
                component=self.name,
                key=topic,
            )
        if dead_letter_topic == topic:
            raise InvalidRequestError(
                "dead_letter_topic must differ from the subscribed topic", component=self.name, key=topic
            )

    def _dead_letterer(self, topic: str, dead_letter_topic: str | None) -> GiveUp:
        """The ``give_up`` of a subscription to ``topic`` (see :class:`SubscribeRequest`)."""
        if dead_letter_topic is None:
            return _keep
        log, name = self.log, self.name

        async def give_up(message: Message, result: HandlerResult) -> HandlerResult:
            if result is HandlerResult.SUCCESS:
                return result
            op = PublishOp(dead_letter_topic, message.data, _EMPTY, message.content_type, None)
            try:
                await self._call_hook("publish", dead_letter_topic, self._publish(op))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "component %r: message %s of topic %r could not be sent to dead-letter topic %r (%s); "
                    "asking for redelivery",
                    name, message.id, topic, dead_letter_topic, type(exc).__name__,
                )  # fmt: skip
                return HandlerResult.RETRY
            log.info(
                "component %r: message %s of topic %r (%s) sent to dead-letter topic %r",
                name, message.id, topic, result.value, dead_letter_topic,
            )  # fmt: skip
            return HandlerResult.SUCCESS

        return give_up

    def _publish_op(
        self, topic: str, data: Any, metadata: Mapping[str, str] | None, content_type: str | None, ttl: int | None
    ) -> PublishOp:
        self._check_topic(topic)
        md = metadata or _EMPTY
        given, seconds = request_ttl(ttl, md, component=self.name, key=topic)
        if given and PubSubFeature.MESSAGE_TTL not in self.features:
            raise self._unsupported(PubSubFeature.MESSAGE_TTL, "publish with a TTL")
        payload = encode_value(data, key=topic, component=self.name)
        if is_raw_payload(md, component=self.name):
            return PublishOp(topic, payload, md, content_type, seconds)
        is_json = not isinstance(data, (bytes, bytearray, memoryview))
        try:
            event = wrap(
                payload,
                topic=topic,
                pubsubname=self.name,
                source=self.app_id,
                content_type=content_type,
                is_json=is_json,
                metadata=md,
            )
        except InvalidRequestError as exc:
            raise exc.fill(self.name, "publish", topic) from None
        return PublishOp(topic, event, md, CLOUDEVENT_CONTENT_TYPE, seconds)

    def _opener(self, metadata: Mapping[str, str]) -> Callable[[Message], Message]:
        """What turns a message as the broker returned it into the one a handler gets (see :class:`Message`)."""
        raw = is_raw_payload(metadata, component=self.name)
        name = self.name

        def opened(message: Message) -> Message:
            if message.event is not None:
                return message
            found = None if raw else unwrap(message.data, message.topic, name, message.metadata)
            if found is None:  # the broker's bytes and content type, with the event daprd makes up
                event = raw_event(message.topic, name, message.metadata)
                ct = message.content_type or event.datacontenttype
                return Message(message.topic, message.data, message.metadata, ct, message.id, event)
            data, event = found
            return Message(message.topic, data, message.metadata, event.datacontenttype, message.id, event)

        return opened

    def _deliverer(self, handler: Handler, topic: str, metadata: Mapping[str, str]) -> Deliver:
        log, name = self.log, self.name
        opened = self._opener(metadata)

        def failed(message: Message, exc: Exception) -> HandlerResult:
            log.warning(
                "component %r: handler for topic %r failed on message %s (%s); asking for redelivery",
                name,
                topic,
                message.id,
                type(exc).__name__,
            )
            return HandlerResult.RETRY

        observer = telemetry.standing_by()
        if observer is not None:
            handler = observer.traced_handler(self, topic, handler)
        run = guard(handler, lambda _, result: coerce_result(result), failed)

        async def deliver(message: Message) -> HandlerResult:
            return await run(opened(message))

        return deliver


class BulkPublisher(PubSub, abc.ABC):
    """Base of a pub/sub that declares :attr:`PubSubFeature.BULK_PUBSUB`.

    The default ``_bulk_publish`` publishes each message concurrently; override it for one round trip.
    """


class BulkSubscriber(PubSub, abc.ABC):
    """Base of a pub/sub that declares :attr:`PubSubFeature.BULK_SUBSCRIBE`.

    The default ``_bulk_subscribe`` batches the per-message deliveries of ``_subscribe``: a batch is
    handed over when ``max_messages`` are waiting or ``max_await`` has passed since its first message.
    It only forms batches larger than one when ``_subscribe`` delivers messages concurrently; a plugin
    that delivers one message at a time implements ``_bulk_subscribe`` natively instead.
    """


class _Batcher:
    """Collects single deliveries into batches for a bulk handler."""

    def __init__(self, req: BulkSubscribeRequest) -> None:
        self._req = req
        self._pending: list[tuple[Message, asyncio.Future[HandlerResult]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def deliver(self, message: Message) -> HandlerResult:
        fut: asyncio.Future[HandlerResult] = asyncio.get_running_loop().create_future()
        self._pending.append((message, fut))
        if len(self._pending) >= self._req.max_messages:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._req.max_await.total_seconds(), self._flush)
        return await fut

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[Message, asyncio.Future[HandlerResult]]]) -> None:
        messages = [m for m, _ in batch]
        results = await self._req.deliver_batch(messages)
        for i, (m, fut) in enumerate(batch):
            if not fut.done():
                fut.set_result(results.get(m.id or str(i), HandlerResult.SUCCESS))

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for _, fut in self._pending:
            fut.cancel()
        self._pending = []
        for task in list(self._tasks):
            task.cancel()

"""``pubsub.rabbitmq``: RabbitMQ publish/subscribe with confirms, manual acks and reconnects.

Topology (Dapr's): a topic is an exchange (``exchangeKind``, default fanout, declared durable); a
consumer group is the queue ``<group>-<topic>`` bound to it, so subscribers of one group compete and
every group gets every message. The group defaults to ``consumerID``, else the component name;
subscribe metadata ``queueName`` overrides the queue and ``routingKey`` (comma-separated) sets the
binding keys (``topic``/``direct`` exchanges).

Guarantees:

- ``publish`` returns once the broker confirmed the message (publisher confirms); ``bulk_publish``
  sends every entry, then awaits their confirms together. While the connection is down, publish
  raises :class:`~blockyard.errors.BackendUnavailableError` (the message was not confirmed: retry).
- Messages are acknowledged after the handler succeeded (or returned ``DROP``). A failed handler or
  ``RETRY`` nacks the message with requeue when ``requeueInFailure`` is true (Blockyard's default;
  the component then declares ``REDELIVERY``), else without requeue: it is dropped, or routed to
  ``dlq-<queue>`` through ``dlx-<queue>`` when ``enableDeadLetter`` is true. ``autoAck: true`` is
  at-most-once (no ``REDELIVERY``).
- Message TTL: ``ttl=`` / publish metadata ``ttlInSeconds`` sets the message expiration; the
  component's ``ttlInSeconds`` sets the queue's ``x-message-ttl``.
- Publish metadata: ``routingKey``, ``priority`` (0-255; needs subscribe metadata ``maxPriority``).
  A delivered :class:`~blockyard.pubsub.Message` carries ``metadata["routingKey"]`` (when not empty)
  and ``metadata["redelivered"] == "true"`` on a redelivery; ``id`` is the AMQP message id, else the
  delivery tag.
- After a dropped connection or a broker restart the component reconnects (``reconnectWaitSeconds``,
  doubling up to 10x) and restarts every subscription by itself. Durable queues
  (``durable: true``, ``deletedWhenUnused: false``) with ``deliveryMode: 2`` keep messages across
  a broker restart.

Wire format: Dapr's RabbitMQ component's — the same exchanges and ``<group>-<topic>`` queues, and
the body is the CloudEvent JSON daprd writes (:mod:`blockyard.envelope`). Not identical: the AMQP
``content_type`` property is ``application/cloudevents+json`` (Dapr writes ``text/plain``; neither
side reads it), and Dapr's ``publishMessagePropertiesToMetadata`` is not offered.

Example::

    import asyncio
    from blockyard_rabbitmq.pubsub import RabbitMQPubSub

    async def main() -> None:
        meta = {"connectionString": "amqp://guest:guest@localhost:5672/", "consumerID": "billing"}
        async with RabbitMQPubSub(meta, name="orders") as pubsub:
            got = asyncio.Event()

            async def handler(message):
                print(message.topic, message.json())
                got.set()

            async with await pubsub.subscribe("orders", handler):
                await pubsub.publish("orders", {"id": 1})
                await got.wait()

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

from pika.spec import BasicProperties

from blockyard.errors import BackendUnavailableError, BlockyardError, InvalidRequestError
from blockyard.pubsub import (
    BulkPublisher,
    HandlerResult,
    Message,
    PublishOp,
    PubSubFeature,
    SubscribeRequest,
)
from blockyard.subscription import Stopper

from .connection import (
    AmqpChannel,
    AmqpConnection,
    ConfirmChannel,
    ConnectionSettings,
    Consumer,
    Delivery,
    translate_error,
)
from .metadata import RabbitMQPubSubMetadata

__all__ = ["RabbitMQPubSub"]

_SETTLE_ACK = (HandlerResult.SUCCESS, HandlerResult.DROP)


def parse_priority(value: str | None, *, component: str, key: str) -> int | None:
    """The ``priority`` metadata as 0-255, or ``None``."""
    if value is None or value == "":
        return None
    try:
        priority = int(value)
    except ValueError:
        priority = -1
    if not 0 <= priority <= 255:
        raise InvalidRequestError("metadata 'priority' must be an integer from 0 to 255", component=component, key=key)
    return priority


class RabbitMQPubSub(BulkPublisher):
    """RabbitMQ pub/sub on pika's asyncio adapter. See the module docstring for the semantics."""

    type: ClassVar[str] = "pubsub.rabbitmq"
    Metadata = RabbitMQPubSubMetadata
    features: ClassVar[frozenset[PubSubFeature]] = frozenset(
        {
            PubSubFeature.MESSAGE_TTL,
            PubSubFeature.BULK_PUBSUB,
            PubSubFeature.CONSUMER_GROUPS,
            PubSubFeature.REDELIVERY,
        }
    )
    meta: RabbitMQPubSubMetadata

    def __init__(self, metadata: Mapping[str, Any] | RabbitMQPubSubMetadata | None = None, *, name: str | None = None):
        super().__init__(metadata, name=name)
        m = self.meta
        if m.auto_ack or not m.requeue_in_failure:
            # failed messages are not delivered again with this configuration
            self._narrow_features(type(self).features - {PubSubFeature.REDELIVERY})
        self._conn: AmqpConnection | None = None
        self._delivery_mode = m.delivery_mode or None
        self._default_props = BasicProperties(delivery_mode=self._delivery_mode)
        args: dict[str, Any] = {}
        if m.max_len is not None:
            args["x-max-length"] = m.max_len
        if m.max_len_bytes is not None:
            args["x-max-length-bytes"] = m.max_len_bytes
        self._limit_args = args
        self._queue_args = dict(args)
        if m.ttl_in_seconds is not None:
            self._queue_args["x-message-ttl"] = int(m.ttl_in_seconds.total_seconds() * 1000)

    # -- lifecycle -----------------------------------------------------------------------

    def _settings(self) -> ConnectionSettings:
        m = self.meta
        return ConnectionSettings.build(
            url=m.connection_string.get_secret_value() if m.connection_string else None,
            hostname=m.hostname,
            protocol=m.protocol,
            username=m.username,
            password=m.password.get_secret_value() if m.password else None,
            heartbeat=m.heart_beat.total_seconds(),
            connect_timeout=m.connect_timeout.total_seconds(),
            reconnect_wait=m.reconnect_wait.total_seconds(),
            client_name=m.client_name,
            ca_cert=m.ca_cert,
            client_cert=m.client_cert.get_secret_value() if m.client_cert else None,
            client_key=m.client_key.get_secret_value() if m.client_key else None,
            sasl_external=m.sasl_external,
            component=self.name,
            url_field="connectionString",
        )

    async def _init(self) -> None:
        conn = AmqpConnection(self._settings(), log=self.log, name=self.name)
        await conn.connect()
        try:
            await conn.publisher()
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def _close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def _ping(self) -> None:
        pub = await self._connection().publisher()
        await pub.rpc(pub.raw.exchange_declare, exchange="amq.fanout", exchange_type="fanout", passive=True)

    def _translate_error(self, exc: BaseException) -> BlockyardError:
        return translate_error(exc, self._conn.settings if self._conn else None)

    def _connection(self) -> AmqpConnection:
        if self._conn is None:
            raise BackendUnavailableError("not connected to the broker")
        return self._conn

    # -- publishing ----------------------------------------------------------------------

    def _properties(self, op: PublishOp) -> BasicProperties:
        md = op.metadata
        priority = parse_priority(md.get("priority"), component=self.name, key=op.topic) if md else None
        if op.ttl is None and op.content_type is None and priority is None:
            return self._default_props
        return BasicProperties(
            content_type=op.content_type,
            delivery_mode=self._delivery_mode,
            expiration=str(op.ttl * 1000) if op.ttl is not None else None,
            priority=priority,
        )

    async def _declare_exchange(self, channel: AmqpChannel, exchange: str, kind: str) -> None:
        await channel.rpc(channel.raw.exchange_declare, exchange=exchange, exchange_type=kind, durable=True)

    async def _publisher_for(self, topic: str) -> ConfirmChannel:
        """The confirm channel, with ``topic``'s exchange declared once per channel."""
        pub = await self._connection().publisher()
        if topic in pub.declared:
            return pub
        declaring = pub.declaring.get(topic)
        if declaring is None:
            declaring = pub.declaring[topic] = asyncio.ensure_future(
                self._declare_exchange(pub, topic, self.meta.exchange_kind)
            )

            def finished(fut: asyncio.Future[None]) -> None:
                pub.declaring.pop(topic, None)
                if not fut.cancelled() and fut.exception() is None:
                    pub.declared.add(topic)

            declaring.add_done_callback(finished)
        await asyncio.shield(declaring)
        return pub

    async def _publish(self, op: PublishOp) -> None:
        props = self._properties(op)
        pub = await self._publisher_for(op.topic)
        await pub.publish(op.topic, op.metadata.get("routingKey", "") if op.metadata else "", op.data, props)

    async def _bulk_publish(self, ops: list[tuple[str, PublishOp]]) -> dict[str, BlockyardError]:
        """Send every entry on the confirm channel, then await all confirms together."""
        errors: dict[str, BlockyardError] = {}
        pending: list[tuple[str, asyncio.Future[None]]] = []
        pub = await self._publisher_for(ops[0][1].topic)
        for entry_id, op in ops:
            try:
                props = self._properties(op)
            except BlockyardError as exc:
                errors[entry_id] = exc
                continue
            routing_key = op.metadata.get("routingKey", "") if op.metadata else ""
            pending.append((entry_id, pub.publish(op.topic, routing_key, op.data, props)))
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        for (entry_id, _), result in zip(pending, results, strict=True):
            if isinstance(result, BaseException):
                errors[entry_id] = self._wrap(result, "bulk_publish", ops[0][1].topic)
        return errors

    # -- subscribing ---------------------------------------------------------------------

    async def _subscribe(self, req: SubscribeRequest) -> Stopper:
        m = self.meta
        md = req.metadata
        queue = md.get("queueName") or f"{req.consumer_group}-{req.topic}"
        routing_keys = [k.strip() for k in md.get("routingKey", "").split(",")] or [""]
        queue_args = dict(self._queue_args)
        max_priority = md.get("maxPriority")
        if max_priority:
            queue_args["x-max-priority"] = min(
                parse_priority(max_priority, component=self.name, key=req.topic) or 0, 255
            )
        if m.enable_dead_letter:
            queue_args["x-dead-letter-exchange"] = f"dlx-{queue}"

        async def setup(channel: AmqpChannel) -> str:
            raw = channel.raw
            if m.prefetch_count:
                await channel.rpc(raw.basic_qos, prefetch_count=m.prefetch_count)
            await self._declare_exchange(channel, req.topic, m.exchange_kind)
            if m.enable_dead_letter:
                dlx, dlq = f"dlx-{queue}", f"dlq-{queue}"
                await self._declare_exchange(channel, dlx, "fanout")
                dlq_args = {**self._limit_args, "x-queue-mode": "lazy"}
                await channel.rpc(
                    raw.queue_declare, queue=dlq, durable=True, auto_delete=m.deleted_when_unused, arguments=dlq_args
                )
                await channel.rpc(raw.queue_bind, queue=dlq, exchange=dlx, routing_key="")
            await channel.rpc(
                raw.queue_declare,
                queue=queue,
                durable=m.durable,
                auto_delete=m.deleted_when_unused,
                arguments=queue_args,
            )
            for key in routing_keys:
                await channel.rpc(raw.queue_bind, queue=queue, exchange=req.topic, routing_key=key)
            return queue

        topic, deliver, auto_ack, requeue = req.topic, req.deliver, m.auto_ack, m.requeue_in_failure
        settle, log, name = AmqpConnection.settle, self.log, self.name

        async def dispatch(d: Delivery) -> None:
            props, method = d.properties, d.method
            metadata: dict[str, str] = {}
            if method.redelivered:
                metadata["redelivered"] = "true"
            if method.routing_key:
                metadata["routingKey"] = method.routing_key
            message = Message(topic, d.body, metadata, props.content_type, props.message_id or str(method.delivery_tag))
            result = await deliver(message)
            if auto_ack:
                if result is HandlerResult.RETRY:
                    log.warning("component %r: message %s of %r failed and is lost (autoAck)", name, message.id, topic)
                return
            if result in _SETTLE_ACK:
                settle(d, True, False)
            else:
                settle(d, False, requeue)

        consumer = Consumer(setup, dispatch, auto_ack, m.concurrency == "single", f"{queue!r}")
        conn = self._connection()
        await conn.start_consumer(consumer)

        async def stop() -> None:
            await conn.stop_consumer(consumer)

        return stop

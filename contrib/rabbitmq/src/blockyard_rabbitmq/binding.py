"""``bindings.rabbitmq``: write to and read from one RabbitMQ queue.

- Output ``create`` publishes ``data`` to ``queueName`` (default exchange) and returns once the
  broker confirmed it. Request metadata: ``ttlInSeconds`` (message expiration), ``priority``
  (0-255, needs ``maxPriority``), ``contentType`` (default: the component's ``contentType``).
  ``durable: true`` declares the queue durable and publishes persistent messages.
- Input ``read(handler)`` consumes ``queueName``: a message is acknowledged after the handler
  succeeded (or returned ``DROP``); a failed handler or ``RETRY`` nacks it with requeue, so it is
  delivered again.
- The queue is declared at ``init()`` (``durable``, ``deleteWhenUnused``, ``exclusive``, ``ttlInSeconds``
  as ``x-message-ttl``, ``maxPriority``). The connection reconnects by itself after a broker restart and
  the reader resumes.

Example::

    import asyncio
    from blockyard_rabbitmq.binding import RabbitMQBinding

    async def main() -> None:
        meta = {"host": "amqp://guest:guest@localhost:5672/", "queueName": "jobs"}
        async with RabbitMQBinding(meta, name="jobs") as jobs:
            done = asyncio.Event()

            async def handler(event):
                print(event.data)
                done.set()

            async with await jobs.read(handler):
                await jobs.invoke("create", b"job-1", metadata={"ttlInSeconds": "60"})
                await done.wait()

    asyncio.run(main())
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pika.spec import BasicProperties

from blockyard.bindings import BindingEvent, BindingResponse, InputBinding, InvokeRequest, OutputBinding
from blockyard.errors import BackendUnavailableError, BlockyardError
from blockyard.state import TTL_METADATA, parse_ttl
from blockyard.subscription import HandlerResult, Stopper

from .connection import AmqpChannel, AmqpConnection, ConnectionSettings, Consumer, Delivery, translate_error
from .metadata import RabbitMQBindingMetadata
from .pubsub import parse_priority

__all__ = ["RabbitMQBinding"]


class RabbitMQBinding(InputBinding, OutputBinding):
    """Input and output binding on one queue. See the module docstring for the semantics."""

    type: ClassVar[str] = "bindings.rabbitmq"
    Metadata = RabbitMQBindingMetadata
    operations: ClassVar[frozenset[str]] = frozenset({"create"})
    meta: RabbitMQBindingMetadata

    def __init__(self, metadata: Mapping[str, Any] | RabbitMQBindingMetadata | None = None, *, name: str | None = None):
        super().__init__(metadata, name=name)
        m = self.meta
        self._conn: AmqpConnection | None = None
        self._delivery_mode = 2 if m.durable else None
        args: dict[str, Any] = {}
        if m.ttl_in_seconds is not None:
            args["x-message-ttl"] = int(m.ttl_in_seconds.total_seconds() * 1000)
        if m.max_priority is not None:
            args["x-max-priority"] = m.max_priority
        self._queue_args = args

    def _settings(self) -> ConnectionSettings:
        m = self.meta
        return ConnectionSettings.build(
            url=m.host.get_secret_value(),
            heartbeat=m.heart_beat.total_seconds(),
            connect_timeout=m.connect_timeout.total_seconds(),
            reconnect_wait=m.reconnect_wait.total_seconds(),
            client_name=None,
            ca_cert=m.ca_cert,
            client_cert=m.client_cert.get_secret_value() if m.client_cert else None,
            client_key=m.client_key.get_secret_value() if m.client_key else None,
            sasl_external=m.external_sasl,
            component=self.name,
            url_field="host",
        )

    async def _declare(self, channel: AmqpChannel) -> None:
        m = self.meta
        await channel.rpc(
            channel.raw.queue_declare,
            queue=m.queue_name,
            durable=m.durable,
            auto_delete=m.delete_when_unused,
            exclusive=m.exclusive,
            arguments=self._queue_args,
        )

    async def _init(self) -> None:
        conn = AmqpConnection(self._settings(), log=self.log, name=self.name)
        await conn.connect()
        try:
            await self._declare(await conn.publisher())
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def _close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def _ping(self) -> None:
        pub = await self._connection().publisher()
        await pub.rpc(pub.raw.queue_declare, queue=self.meta.queue_name, passive=True)

    def _translate_error(self, exc: BaseException) -> BlockyardError:
        return translate_error(exc, self._conn.settings if self._conn else None)

    def _connection(self) -> AmqpConnection:
        if self._conn is None:
            raise BackendUnavailableError("not connected to the broker")
        return self._conn

    async def _invoke(self, req: InvokeRequest) -> BindingResponse:
        md = req.metadata
        ttl_raw = md.get(TTL_METADATA)
        ttl = parse_ttl(ttl_raw, component=self.name, key=TTL_METADATA) if ttl_raw not in (None, "") else None
        props = BasicProperties(
            content_type=md.get("contentType") or self.meta.content_type,
            delivery_mode=self._delivery_mode,
            expiration=str(ttl * 1000) if ttl is not None else None,
            priority=parse_priority(md.get("priority"), component=self.name, key="priority"),
        )
        pub = await self._connection().publisher()
        await pub.publish("", self.meta.queue_name, req.data or b"", props)
        return BindingResponse()

    async def _read(self, deliver: Any) -> Stopper:
        m = self.meta

        async def setup(channel: AmqpChannel) -> str:
            if m.prefetch_count:
                await channel.rpc(channel.raw.basic_qos, prefetch_count=m.prefetch_count)
            await self._declare(channel)
            return m.queue_name

        settle = AmqpConnection.settle

        async def dispatch(d: Delivery) -> None:
            props, method = d.properties, d.method
            metadata = {"redelivered": "true"} if method.redelivered else {}
            event = BindingEvent(d.body, metadata, props.content_type, props.message_id or str(method.delivery_tag))
            result = await deliver(event)
            if result is HandlerResult.SUCCESS or result is HandlerResult.DROP:
                settle(d, True, False)
            else:
                settle(d, False, True)

        consumer = Consumer(setup, dispatch, False, False, repr(m.queue_name))
        conn = self._connection()
        await conn.start_consumer(consumer)

        async def stop() -> None:
            await conn.stop_consumer(consumer)

        return stop

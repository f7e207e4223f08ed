"""One AMQP connection on the running asyncio loop (pika's ``AsyncioConnection``), with
publisher confirms, consumers that survive reconnects, and error translation.

Everything runs on the event loop thread: pika's callbacks resolve asyncio futures, so there is no
thread hop per message. After an unexpected close the connection reconnects with backoff
(``reconnect_wait``, doubling, capped) and restarts every registered :class:`Consumer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import tempfile
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import pika
import pika.exceptions as pex
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.adapters.utils.connection_workflow import AMQPConnectionWorkflowFailed
from pika.channel import Channel
from pika.spec import Basic, BasicProperties

from blockyard.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    BlockyardError,
    ComponentConfigError,
)

__all__ = ["AmqpConnection", "ConnectionSettings", "Consumer", "Delivery", "translate_error"]

_MAX_BACKOFF_FACTOR = 10
#: The least wait after a failed reconnect, so that ``reconnectWait: 0`` (at once) never spins.
_MIN_BACKOFF = 0.1
_UNAVAILABLE = (
    pex.AMQPConnectionError,
    pex.ConnectionClosed,
    pex.StreamLostError,
    pex.ChannelWrongStateError,
    pex.ConnectionWrongStateError,
    pex.ChannelClosed,
    TimeoutError,
    ConnectionError,
    OSError,
)


@dataclass(slots=True)
class ConnectionSettings:
    """Where and how to connect; ``secrets`` are scrubbed from every error message."""

    params: pika.ConnectionParameters | pika.URLParameters
    vhost: str
    reconnect_wait: float
    connect_timeout: float
    secrets: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        url: str | None,
        hostname: str | None = None,
        protocol: str = "amqp",
        username: str | None = None,
        password: str | None = None,
        heartbeat: float,
        connect_timeout: float,
        reconnect_wait: float,
        client_name: str | None,
        ca_cert: str | None,
        client_cert: str | None,
        client_key: str | None,
        sasl_external: bool,
        component: str,
        url_field: str,
    ) -> ConnectionSettings:
        """Build pika parameters from metadata; raise :class:`ComponentConfigError` naming the field."""
        secrets = [s for s in (url, password, client_key) if s]
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("amqp", "amqps"):
                raise ComponentConfigError(
                    f"field {url_field!r} must be an amqp:// or amqps:// URL", component=component, field=url_field
                )
            if parts.password:
                secrets.append(parts.password)
                secrets.append(unquote(parts.password))
            try:
                params: pika.ConnectionParameters | pika.URLParameters = pika.URLParameters(url)
            except Exception as exc:
                raise ComponentConfigError(
                    f"field {url_field!r} is not a valid AMQP URL ({type(exc).__name__})",
                    component=component,
                    field=url_field,
                ) from None
            tls = parts.scheme == "amqps"
            host_for_tls = parts.hostname or "localhost"
        else:
            assert hostname is not None
            host, _, port_text = hostname.partition(":")
            tls = protocol == "amqps"
            try:
                port = int(port_text) if port_text else (5671 if tls else 5672)
            except ValueError:
                raise ComponentConfigError(
                    "field 'hostname' must be host or host:port", component=component, field="hostname"
                ) from None
            credentials = pika.PlainCredentials(username or "guest", password or "guest")
            params = pika.ConnectionParameters(host=host, port=port, credentials=credentials)
            host_for_tls = host
        if tls:
            context = _ssl_context(ca_cert, client_cert, client_key, component)
            params.ssl_options = pika.SSLOptions(context, host_for_tls)
        elif ca_cert or client_cert:
            raise ComponentConfigError(
                f"TLS fields are given but {url_field!r} does not use amqps://", component=component, field="caCert"
            )
        if sasl_external:
            if not tls or not client_cert:
                raise ComponentConfigError(
                    "SASL EXTERNAL needs amqps:// and a client certificate", component=component, field="saslExternal"
                )
            params.credentials = pika.credentials.ExternalCredentials()
        params.heartbeat = int(heartbeat)
        params.socket_timeout = connect_timeout
        params.stack_timeout = connect_timeout
        params.connection_attempts = 1
        params.blocked_connection_timeout = max(60.0, connect_timeout)
        if client_name:
            params.client_properties = {"connection_name": client_name}
        return cls(params, params.virtual_host, reconnect_wait, connect_timeout, tuple(secrets))

    def scrub(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _ssl_context(ca_cert: str | None, cert: str | None, key: str | None, component: str) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cadata=ca_cert) if ca_cert else ssl.create_default_context()
    except (ssl.SSLError, ValueError) as exc:
        raise ComponentConfigError(
            f"field 'caCert' is not a PEM certificate ({type(exc).__name__})", component=component, field="caCert"
        ) from None
    if cert and key:
        # the ssl module loads a key pair only from files: write them privately and remove them at once
        with tempfile.TemporaryDirectory(prefix="blockyard-rmq-") as folder:
            cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
            for path, text in ((cert_path, cert), (key_path, key)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(text)
            try:
                context.load_cert_chain(cert_path, key_path)
            except (ssl.SSLError, ValueError) as exc:
                raise ComponentConfigError(
                    f"fields 'clientCert'/'clientKey' are not a matching PEM pair ({type(exc).__name__})",
                    component=component,
                    field="clientCert",
                ) from None
    return context


def translate_error(exc: BaseException, settings: ConnectionSettings | None = None) -> BlockyardError:
    """Map a pika (or socket) exception to a Blockyard error with a message free of secrets."""
    if isinstance(exc, BlockyardError):
        return exc
    scrub = settings.scrub if settings is not None else (lambda s: s)
    vhost = settings.vhost if settings is not None else "?"
    causes: list[BaseException] = [exc]
    if isinstance(exc, pex.AMQPConnectionError):
        causes.extend(arg for arg in exc.args if isinstance(arg, BaseException))
    for cause in list(causes):
        if isinstance(cause, AMQPConnectionWorkflowFailed):
            causes.extend(cause.exceptions or ())
    last = causes[-1]
    detail = scrub(f"{type(last).__name__}: {str(last) or repr(last)}")
    err: BlockyardError
    for cause in reversed(causes):
        text = str(cause)
        if isinstance(cause, (pex.ProbableAuthenticationError, pex.AuthenticationError)) or (
            isinstance(cause, pex.ConnectionClosedByBroker) and cause.reply_code == 403
        ):
            err = AuthenticationError(f"the broker refused the credentials ({scrub(type(cause).__name__)})")
            break
        if "530" in text and "not found" in text:
            err = ComponentConfigError(
                f"virtual host {vhost!r} does not exist on the broker (the path of the connection URL names it)",
                field="vhost",
            )
            break
        if isinstance(cause, pex.ProbableAccessDeniedError) or (
            isinstance(cause, pex.ConnectionClosedByBroker) and cause.reply_code == 530
        ):
            err = AuthenticationError(
                f"access to virtual host {vhost!r} was refused: it does not exist or the user has no permission on it"
            )
            break
    else:
        if isinstance(exc, pex.ChannelClosedByBroker):
            err = BackendError(scrub(f"the broker closed the channel: ({exc.reply_code}) {exc.reply_text}"))
        elif isinstance(exc, _UNAVAILABLE):
            err = BackendUnavailableError(f"cannot reach the broker ({detail})")
        else:
            err = BackendError(detail)
    err.__cause__ = None
    return err


class AmqpChannel:
    """A pika channel whose RPCs are awaitable; a close fails every pending call."""

    def __init__(self, channel: Channel, settings: ConnectionSettings) -> None:
        self.raw = channel
        self._settings = settings
        self._loop = asyncio.get_running_loop()
        self._pending: set[asyncio.Future[Any]] = set()
        self.close_reason: BaseException | None = None
        self._close_listeners: list[Callable[[BaseException], None]] = []
        channel.add_on_close_callback(self._on_close)

    @property
    def is_open(self) -> bool:
        return bool(self.raw.is_open)

    def on_close(self, listener: Callable[[BaseException], None]) -> None:
        self._close_listeners.append(listener)

    def _on_close(self, _channel: Channel, reason: BaseException) -> None:
        self.close_reason = reason
        err = translate_error(reason, self._settings)
        for fut in list(self._pending):
            if not fut.done():
                fut.set_exception(err)
        self._pending.clear()
        for listener in self._close_listeners:
            listener(reason)

    def rpc(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        """Call a pika channel method taking ``callback=``; the future resolves with its frame."""
        fut: asyncio.Future[Any] = self._loop.create_future()
        if not self.raw.is_open:
            fut.set_exception(translate_error(pex.ChannelWrongStateError("channel is closed"), self._settings))
            return fut
        self._pending.add(fut)

        def done(frame: Any) -> None:
            self._pending.discard(fut)
            if not fut.done():
                fut.set_result(frame)

        try:
            method(*args, callback=done, **kwargs)
        except Exception as exc:
            self._pending.discard(fut)
            fut.set_exception(translate_error(exc, self._settings))
        return fut

    async def close(self) -> None:
        if self.raw.is_open:
            closed: asyncio.Future[None] = self._loop.create_future()
            self.on_close(lambda _r: _resolve(closed))
            with contextlib.suppress(Exception):
                self.raw.close()
                await asyncio.wait_for(closed, 5)


class ConfirmChannel(AmqpChannel):
    """A channel in confirm mode: :meth:`publish` returns a future the broker's ack resolves."""

    def __init__(self, channel: Channel, settings: ConnectionSettings) -> None:
        super().__init__(channel, settings)
        self._confirms: dict[int, asyncio.Future[None]] = {}
        self._next_tag = 1
        self._low = 1
        self.declared: set[str] = set()
        self.declaring: dict[str, asyncio.Future[None]] = {}

    async def enable(self) -> None:
        await self.rpc(self.raw.confirm_delivery, self._on_confirm)

    def publish(
        self, exchange: str, routing_key: str, body: bytes, properties: BasicProperties | None
    ) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = self._loop.create_future()
        try:
            self.raw.basic_publish(exchange, routing_key, body, properties)
        except Exception as exc:
            fut.set_exception(translate_error(exc, self._settings))
            return fut
        self._confirms[self._next_tag] = fut
        self._next_tag += 1
        return fut

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag: int = method.delivery_tag
        ok = isinstance(method, Basic.Ack)
        if method.multiple:
            tags: Iterable[int] = range(self._low, tag + 1)
        else:
            tags = (tag,)
        for t in tags:
            fut = self._confirms.pop(t, None)
            if fut is not None and not fut.done():
                if ok:
                    fut.set_result(None)
                else:
                    fut.set_exception(BackendError("the broker rejected the message (basic.nack)"))
        while self._low < self._next_tag and self._low not in self._confirms:
            self._low += 1

    def _on_close(self, channel: Channel, reason: BaseException) -> None:
        err = translate_error(reason, self._settings)
        for fut in self._confirms.values():
            if not fut.done():
                fut.set_exception(err)
        self._confirms.clear()
        super()._on_close(channel, reason)


@dataclass(slots=True)
class Delivery:
    """One message as a consumer hands it to its dispatcher."""

    channel: AmqpChannel
    method: Basic.Deliver
    properties: BasicProperties
    body: bytes


Dispatch = Callable[[Delivery], Coroutine[Any, Any, None]]
Setup = Callable[[AmqpChannel], Coroutine[Any, Any, str]]


@dataclass(eq=False)
class Consumer:
    """A consumer the connection restarts after every reconnect.

    ``setup`` declares the topology on a fresh channel and returns the queue to consume; ``dispatch``
    handles one delivery (and acks it). ``concurrency`` ``single`` dispatches one at a time.
    """

    setup: Setup
    dispatch: Dispatch
    auto_ack: bool
    single: bool
    label: str
    channel: AmqpChannel | None = None
    stopped: bool = False
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    queue: asyncio.Queue[Delivery] | None = None


class AmqpConnection:
    """The component's connection: publishing with confirms and resilient consumers."""

    def __init__(self, settings: ConnectionSettings, *, log: logging.Logger, name: str) -> None:
        self.settings = settings
        self.log = log
        self.name = name
        self._conn: AsyncioConnection | None = None
        self._publisher: ConfirmChannel | None = None
        self._publisher_opening: asyncio.Future[ConfirmChannel] | None = None
        self._consumers: set[Consumer] = set()
        self._closing = False
        self._reconnect_task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.reconnects = 0

    # -- connection ----------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._conn is not None and bool(self._conn.is_open)

    async def connect(self) -> None:
        """Open the connection; raise a translated error when the broker cannot be used."""
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[AsyncioConnection] = loop.create_future()

        def on_open(conn: Any) -> None:
            if not opened.done():
                opened.set_result(conn)

        def on_open_error(_conn: Any, exc: BaseException) -> None:
            if not opened.done():
                opened.set_exception(translate_error(exc, self.settings))

        conn = AsyncioConnection(
            self.settings.params,
            on_open_callback=on_open,
            on_open_error_callback=on_open_error,
            on_close_callback=self._on_connection_closed,
            custom_ioloop=loop,
        )
        try:
            await asyncio.wait_for(asyncio.shield(opened), self.settings.connect_timeout + 1)
        except TimeoutError:
            with contextlib.suppress(Exception):
                conn.close()
            raise BackendUnavailableError(
                f"cannot reach the broker: no AMQP handshake within {self.settings.connect_timeout:g} s"
            ) from None
        self._conn = conn
        self._publisher = None
        self._connected.set()

    def _on_connection_closed(self, conn: Any, reason: BaseException) -> None:
        if conn is not self._conn:
            return
        self._connected.clear()
        self._publisher = None
        for consumer in self._consumers:
            consumer.channel = None
        if self._closing:
            return
        self.log.warning(
            "component %r: connection to the broker lost (%s); reconnecting",
            self.name,
            self.settings.scrub(type(reason).__name__),
        )
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        wait = self.settings.reconnect_wait
        cap = max(wait * _MAX_BACKOFF_FACTOR, 30.0)
        while not self._closing:
            await asyncio.sleep(wait)
            if self._closing:
                return
            try:
                await self.connect()
                for consumer in list(self._consumers):
                    await self._start_consumer(consumer)
            except Exception as exc:
                err = translate_error(exc, self.settings)
                self.log.warning("component %r: reconnect failed (%s); next try in %.1f s", self.name, err, wait)
                if self._conn is not None and self._conn.is_open:
                    with contextlib.suppress(Exception):
                        self._conn.close()
                wait = min(max(wait * 2, _MIN_BACKOFF), cap)
                continue
            self.reconnects += 1
            self.log.info("component %r: reconnected to the broker", self.name)
            return

    async def close(self) -> None:
        """Stop every consumer and close the connection."""
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            with contextlib.suppress(BaseException):
                await self._reconnect_task
        for consumer in list(self._consumers):
            await self.stop_consumer(consumer)
        conn = self._conn
        if conn is not None and not conn.is_closed:
            closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            conn.add_on_close_callback(lambda _c, _r: _resolve(closed))
            with contextlib.suppress(Exception):
                if not conn.is_closing:
                    conn.close()
                await asyncio.wait_for(closed, 5)
        self._conn = None

    def _require_open(self) -> AsyncioConnection:
        if self._conn is None or not self._conn.is_open:
            raise BackendUnavailableError("not connected to the broker (reconnecting)")
        return self._conn

    async def channel(self) -> AmqpChannel:
        """Open a new channel."""
        conn = self._require_open()
        fut: asyncio.Future[Channel] = asyncio.get_running_loop().create_future()

        def opened(ch: Channel) -> None:
            if not fut.done():
                fut.set_result(ch)

        try:
            conn.channel(on_open_callback=opened)
        except Exception as exc:
            raise translate_error(exc, self.settings) from None
        raw = await asyncio.wait_for(fut, self.settings.connect_timeout)
        return AmqpChannel(raw, self.settings)

    # -- publishing ----------------------------------------------------------------------

    async def publisher(self) -> ConfirmChannel:
        """The shared confirm-mode channel (opened on first use and after a close)."""
        pub = self._publisher
        if pub is not None and pub.is_open:
            return pub
        if self._publisher_opening is not None:
            return await asyncio.shield(self._publisher_opening)
        loop = asyncio.get_running_loop()
        opening: asyncio.Future[ConfirmChannel] = loop.create_future()
        self._publisher_opening = opening
        try:
            plain = await self.channel()
            pub = ConfirmChannel(plain.raw, self.settings)
            await pub.enable()
            self._publisher = pub
            opening.set_result(pub)
            return pub
        except BaseException as exc:
            opening.set_exception(exc)
            opening.exception()  # mark retrieved
            raise
        finally:
            self._publisher_opening = None

    # -- consuming -----------------------------------------------------------------------

    async def start_consumer(self, consumer: Consumer) -> None:
        """Register ``consumer`` and start it now; it restarts after every reconnect."""
        self._consumers.add(consumer)
        try:
            await self._start_consumer(consumer)
        except BaseException:
            self._consumers.discard(consumer)
            raise

    async def _start_consumer(self, consumer: Consumer) -> None:
        if consumer.stopped:
            return
        channel = await self.channel()
        try:
            queue = await consumer.setup(channel)
            if consumer.single and consumer.queue is None:
                consumer.queue = asyncio.Queue()
                worker = asyncio.get_running_loop().create_task(self._single_worker(consumer))
                consumer.tasks.add(worker)
                worker.add_done_callback(consumer.tasks.discard)

            def on_message(_ch: Channel, method: Basic.Deliver, props: BasicProperties, body: bytes) -> None:
                if consumer.stopped:
                    return  # left unacked: requeued when the channel closes
                delivery = Delivery(channel, method, props, body)
                if consumer.queue is not None:
                    consumer.queue.put_nowait(delivery)
                    return
                task = asyncio.get_running_loop().create_task(consumer.dispatch(delivery))
                consumer.tasks.add(task)
                task.add_done_callback(consumer.tasks.discard)

            await channel.rpc(channel.raw.basic_consume, queue, on_message, auto_ack=consumer.auto_ack)
        except BaseException:
            await channel.close()
            raise
        channel.on_close(lambda reason: self._consumer_channel_closed(consumer, channel, reason))
        consumer.channel = channel

    def _consumer_channel_closed(self, consumer: Consumer, channel: AmqpChannel, reason: BaseException) -> None:
        if consumer.stopped or self._closing or consumer.channel is not channel:
            return
        consumer.channel = None
        if self.is_open:  # only the channel died (e.g. the queue was deleted): restart it alone
            self.log.warning(
                "component %r: consumer %s lost its channel (%s); restarting",
                self.name,
                consumer.label,
                self.settings.scrub(str(reason)),
            )
            asyncio.get_running_loop().create_task(self._restart_consumer(consumer))

    async def _restart_consumer(self, consumer: Consumer) -> None:
        wait = self.settings.reconnect_wait
        while not consumer.stopped and not self._closing:
            await asyncio.sleep(wait)
            if consumer.stopped or not self.is_open or consumer.channel is not None:
                return  # the connection's reconnect takes over
            try:
                await self._start_consumer(consumer)
                return
            except Exception as exc:
                self.log.warning(
                    "component %r: restarting consumer %s failed (%s)",
                    self.name,
                    consumer.label,
                    translate_error(exc, self.settings),
                )
                wait = min(max(wait * 2, _MIN_BACKOFF), max(self.settings.reconnect_wait * _MAX_BACKOFF_FACTOR, 30.0))

    async def _single_worker(self, consumer: Consumer) -> None:
        assert consumer.queue is not None
        while True:
            delivery = await consumer.queue.get()
            if consumer.stopped:
                return
            if delivery.channel.is_open:  # else the broker already requeued it
                await consumer.dispatch(delivery)

    async def stop_consumer(self, consumer: Consumer) -> None:
        """Stop delivery: no handler runs after this returns; unacked messages go back to the queue."""
        consumer.stopped = True
        self._consumers.discard(consumer)
        tasks = [t for t in consumer.tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        channel, consumer.channel = consumer.channel, None
        if channel is not None:
            await channel.close()

    # -- helpers for consumers -----------------------------------------------------------

    @staticmethod
    def settle(delivery: Delivery, ack: bool, requeue: bool) -> None:
        """Ack or nack ``delivery`` on its own channel; a closed channel means the broker requeued it."""
        raw = delivery.channel.raw
        if not raw.is_open:
            return
        try:
            if ack:
                raw.basic_ack(delivery.method.delivery_tag)
            else:
                raw.basic_nack(delivery.method.delivery_tag, requeue=requeue)
        except (pex.ChannelWrongStateError, pex.ConnectionWrongStateError, pex.ChannelClosed, pex.ConnectionClosed):
            pass

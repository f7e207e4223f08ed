"""What both Kafka components share: aiokafka settings, the producer, topics, errors.

- :func:`client_options` turns the metadata into aiokafka's connection keyword arguments
  (bootstrap servers, SASL, TLS from PEM text, timeouts).
- :class:`KafkaClient` owns one producer and one admin client per component: ``start`` reaches
  the brokers within ``dialTimeout``; ``send`` publishes one record (acknowledged per
  ``producerRequiredAcks``); ``ensure_topic`` creates a missing topic (``partitions``,
  ``replicationFactor``) or refuses it when ``createTopics`` is false.
- :func:`translate_error` maps aiokafka's exceptions to Blockyard's hierarchy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any, cast

from aiokafka import AIOKafkaProducer
from aiokafka import errors as kerr
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.protocol.metadata import MetadataRequest

from blockyard.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    BlockyardError,
    ComponentConfigError,
    InvalidRequestError,
)

from .metadata import KafkaMetadata

__all__ = [
    "CONTENT_TYPE_HEADER",
    "KEY_METADATA",
    "KafkaClient",
    "KafkaClientMixin",
    "Record",
    "client_options",
    "record_from",
    "split_metadata",
    "translate_error",
]

KEY_METADATA = ("partitionKey", "__key")
"""Publish metadata that becomes the record key (the rest becomes headers)."""
CONTENT_TYPE_HEADER = "content-type"

_MISSING = (kerr.UnknownTopicOrPartitionError.errno, kerr.InvalidTopicError.errno)
"""Metadata error codes of a topic that is not there (an invalid name is refused on creation)."""
_CODECS = {"snappy": "has_snappy", "lz4": "has_lz4", "zstd": "has_zstd", "gzip": "has_gzip"}
_SIZE_MARGIN = 64 * 1024  # room for the record batch framing around the largest message

Headers = list[tuple[str, bytes]]


class _RedactSecrets(logging.Filter):
    """Masks the SASL passwords of live components in aiokafka's records (its DEBUG log prints
    the SASL PLAIN request bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[str, int] = {}

    def add(self, secret: str) -> None:
        for form in {secret, repr(secret.encode())[2:-1]}:
            self.secrets[form] = self.secrets.get(form, 0) + 1

    def discard(self, secret: str) -> None:
        for form in {secret, repr(secret.encode())[2:-1]}:
            left = self.secrets.get(form, 0) - 1
            if left > 0:
                self.secrets[form] = left
            else:
                self.secrets.pop(form, None)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            if any(s in text for s in self.secrets):
                for s in self.secrets:
                    text = text.replace(s, "********")
                record.msg, record.args = text, ()
        return True


_REDACT = _RedactSecrets()
for _logger in ("aiokafka", "aiokafka.conn", "aiokafka.client"):
    logging.getLogger(_logger).addFilter(_REDACT)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _ssl_context(m: KafkaMetadata) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=m.ca_cert) if m.ca_cert else ssl.create_default_context()
    if m.skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if m.client_cert and m.client_key is not None:
        # ssl loads a key pair only from files: a private folder, removed at once
        with tempfile.TemporaryDirectory(prefix="blockyard-kafka-") as folder:
            cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
            for path, text in ((cert, m.client_cert), (key, m.client_key.get_secret_value())):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(text)
            ctx.load_cert_chain(cert, key)
    return ctx


def client_options(m: KafkaMetadata) -> dict[str, Any]:
    """aiokafka keyword arguments shared by producers, consumers and admin clients.

    :raises ComponentConfigError: for PEM text that does not load.
    """
    opts: dict[str, Any] = {
        "bootstrap_servers": list(m.brokers),
        "client_id": m.client_id,
        "request_timeout_ms": _ms(m.read_timeout.total_seconds()),
        "metadata_max_age_ms": _ms(m.client_connection_topic_metadata_refresh_interval.total_seconds()),
    }
    if m.auth_type == "password":
        opts["security_protocol"] = "SASL_SSL" if m.uses_tls else "SASL_PLAINTEXT"
        opts["sasl_mechanism"] = m.sasl_mechanism
        opts["sasl_plain_username"] = m.sasl_username
        opts["sasl_plain_password"] = m.sasl_password.get_secret_value() if m.sasl_password else None
    elif m.uses_tls:
        opts["security_protocol"] = "SSL"
    if m.uses_tls:
        try:
            opts["ssl_context"] = _ssl_context(m)
        except (ssl.SSLError, ValueError, OSError) as exc:
            raise ComponentConfigError(
                f"the TLS fields 'caCert', 'clientCert' and 'clientKey' must hold PEM text ({type(exc).__name__})",
                field="caCert",
            ) from None
    return opts


class Record:
    """One record to send: value, key and headers, with its size for the ``maxMessageBytes`` check."""

    __slots__ = ("headers", "key", "size", "value")

    def __init__(self, value: bytes, key: bytes | None, headers: Headers | None) -> None:
        self.value = value
        self.key = key
        self.headers = headers
        self.size = _size(value, key, headers)


def _size(value: bytes, key: bytes | None, headers: Headers | None) -> int:
    size = len(value)
    if key is not None:
        size += len(key)
    for name, header in headers or ():
        size += len(name) + len(header)
    return size


def split_metadata(metadata: Mapping[str, str], content_type: str | None) -> tuple[bytes | None, Headers | None]:
    """``partitionKey`` / ``__key`` become the key, every other metadata entry a header."""
    key: bytes | None = None
    headers: Headers = []
    for name, value in metadata.items():
        if name in KEY_METADATA:
            key = value.encode()
        else:
            headers.append((name, value.encode()))
    if content_type is not None:
        headers.append((CONTENT_TYPE_HEADER, content_type.encode()))
    return key, headers or None


def record_from(data: bytes, metadata: Mapping[str, str], content_type: str | None) -> Record:
    """A :class:`Record` of ``data`` with the key and headers from ``metadata``."""
    if not metadata and content_type is None:
        return Record(data, None, None)
    return Record(data, *split_metadata(metadata, content_type))


class KafkaClient:
    """The producer and admin client of one component."""

    def __init__(self, m: KafkaMetadata, *, log: logging.Logger, name: str) -> None:
        self.meta = m
        self.log = log
        self.name = name
        self.options = client_options(m)
        self._producer: AIOKafkaProducer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._known_topics: set[str] = set()
        self._send: Any = self._not_started
        self._creating: dict[str, asyncio.Future[None]] = {}
        self._max_bytes = m.max_message_bytes
        self._secret = m.sasl_password.get_secret_value() if m.sasl_password else None
        if self._secret:
            _REDACT.add(self._secret)

    async def _not_started(self, *args: Any, **kwargs: Any) -> Any:
        raise BackendUnavailableError("the producer is not started")

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise BackendUnavailableError("the producer is not started")
        return self._producer

    async def start(self) -> None:
        """Start the producer and the admin client; both reach the brokers within ``dialTimeout``.

        :raises BackendUnavailableError: no broker answered in time.
        :raises AuthenticationError: the brokers refused the SASL credentials.
        :raises ComponentConfigError: the compression codec is not installed.
        """
        m = self.meta
        compression = None if m.compression == "none" else m.compression
        if compression is not None:
            import aiokafka.codec as codec

            if not getattr(codec, _CODECS[compression])():
                raise ComponentConfigError(
                    f"field 'compression': {compression} needs its codec (pip install 'aiokafka[{compression}]')",
                    field="compression",
                )
        acks: Any = "all" if m.producer_required_acks == "all" else int(m.producer_required_acks)
        producer = AIOKafkaProducer(
            **{**self.options, "request_timeout_ms": _ms(m.write_timeout.total_seconds())},
            acks=acks,
            compression_type=compression,
            max_request_size=self._max_bytes + _SIZE_MARGIN,
        )
        admin = AIOKafkaAdminClient(**self.options)
        try:
            async with asyncio.timeout(m.dial_timeout.total_seconds()):
                await self._probe()
                await producer.start()
                await admin.start()
        except BaseException as exc:
            await _quietly(producer.stop())
            await _quietly(admin.close())
            await self.close()
            if isinstance(exc, TimeoutError):
                raise BackendUnavailableError(
                    f"no broker of {', '.join(m.brokers)} answered within dialTimeout "
                    f"({m.dial_timeout.total_seconds():g} s)"
                ) from None
            raise
        self._producer, self._admin = producer, admin
        self._send = producer.send

    async def _probe(self) -> None:
        """Connect to one bootstrap broker the way the clients will, so a refused login is
        reported as such (aiokafka's bootstrap only says it could not connect)."""
        from aiokafka.conn import create_conn

        last: BaseException | None = None
        opts = self.options
        for broker in self.meta.brokers:
            host, _, port = broker.rpartition(":")
            try:
                conn = await create_conn(
                    host or broker,
                    int(port) if port.isdigit() else 9092,
                    client_id=opts["client_id"],
                    request_timeout_ms=opts["request_timeout_ms"],
                    security_protocol=opts.get("security_protocol", "PLAINTEXT"),
                    ssl_context=opts.get("ssl_context"),
                    sasl_mechanism=opts.get("sasl_mechanism", "PLAIN"),
                    sasl_plain_username=opts.get("sasl_plain_username"),
                    sasl_plain_password=opts.get("sasl_plain_password"),
                )
            except (kerr.KafkaError, OSError) as exc:
                if _is_auth_error(exc):
                    raise
                refused = _tls_refusal(exc, broker)
                if refused is not None:
                    raise refused from None
                last = exc
                continue
            conn.close()
            return
        raise BackendUnavailableError(
            f"cannot connect to any broker of {', '.join(self.meta.brokers)}"
            + (f" ({type(last).__name__})" if last else "")
        )

    async def ping(self) -> None:
        """Ask the cluster to describe itself (a round trip to a broker)."""
        if self._admin is not None:
            await self._admin.describe_cluster()

    async def close(self) -> None:
        """Stop the clients (idempotent); the password stays masked in aiokafka's log until then."""
        if self._producer is not None:
            await _quietly(self._producer.stop())
        if self._admin is not None:
            await _quietly(self._admin.close())
        self._producer = self._admin = None
        if self._secret:
            _REDACT.discard(self._secret)
            self._secret = None

    # -- topics ------------------------------------------------------------------------------

    async def ensure_topic(self, topic: str) -> None:
        """Make sure ``topic`` exists: create it when ``createTopics`` is true, else refuse it.

        :raises InvalidRequestError: the topic does not exist and ``createTopics`` is false, or
            its name is invalid.
        """
        if topic in self._known_topics:
            return
        pending = self._creating.get(topic)
        if pending is None:
            pending = self._creating[topic] = asyncio.ensure_future(self._ensure(topic))
            pending.add_done_callback(lambda _: self._creating.pop(topic, None))
        await asyncio.shield(pending)

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        await asyncio.gather(*(self.ensure_topic(t) for t in topics))

    async def _ensure(self, topic: str) -> None:
        admin = self._admin
        if admin is None:
            raise BackendUnavailableError("the admin client is not started")
        code = (await self._describe(topic))["error_code"]
        if code in _MISSING:
            if not self.meta.create_topics:
                raise InvalidRequestError(
                    f"topic {topic!r} does not exist and 'createTopics' is false", component=self.name, key=topic
                )
            new = NewTopic(topic, self.meta.partitions, self.meta.replication_factor)
            response = await admin.create_topics([new])
            for _name, code, *rest in response.topic_errors:
                if code not in (0, kerr.TopicAlreadyExistsError.errno):
                    error = kerr.for_code(code)
                    detail = rest[0] if rest and isinstance(rest[0], str) and rest[0] else error.description
                    raise InvalidRequestError(
                        f"cannot create topic {topic!r}: {error.__name__}: {detail}", component=self.name, key=topic
                    )
            self.log.info("component %r: created topic %r (%d partition(s))", self.name, topic, self.meta.partitions)
        elif code not in (0, kerr.LeaderNotAvailableError.errno):
            raise kerr.for_code(code)(f"topic {topic!r}")
        await self._wait_for_leaders(topic)
        self._known_topics.add(topic)

    async def _describe(self, topic: str) -> dict[str, Any]:
        """The cluster's metadata of ``topic`` alone (``error_code``, ``partitions``), asked so that
        the broker does not auto-create it: the cost does not grow with the cluster's topic count."""
        client = self.producer.client
        request = MetadataRequest([topic], allow_auto_topic_creation=False)
        response = await client.send(client.get_random_node(), request)
        (described,) = response.to_object()["topics"]
        return cast(dict[str, Any], described)

    async def _wait_for_leaders(self, topic: str) -> None:
        """Wait until every partition of ``topic`` has a leader (a new topic takes a moment)."""
        delay = 0.02
        while True:
            described = await self._describe(topic)
            parts = described.get("partitions") or []
            if described.get("error_code") == 0 and parts and all(p.get("leader", -1) >= 0 for p in parts):
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    # -- publishing --------------------------------------------------------------------------

    def check_size(self, size: int, topic: str) -> None:
        if size > self._max_bytes:
            raise InvalidRequestError(
                f"message of {size} bytes exceeds maxMessageBytes ({self._max_bytes} bytes)",
                component=self.name,
                key=topic,
            )

    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Headers | None = None) -> None:
        """Publish one record; return once the brokers acknowledged it."""
        size = len(value) if key is None and headers is None else _size(value, key, headers)
        if size > self._max_bytes:
            self.check_size(size, topic)
        if topic not in self._known_topics:
            await self.ensure_topic(topic)
        await (await self._send(topic, value, key=key, headers=headers))

    async def send_many(self, topic: str, records: Sequence[tuple[str, Record]]) -> dict[str, BaseException]:
        """Queue every record (they share the producer's batches), then await the acknowledgements."""
        await self.ensure_topic(topic)
        errors: dict[str, BaseException] = {}
        pending: list[tuple[str, asyncio.Future[Any]]] = []
        producer = self.producer
        for entry_id, record in records:
            try:
                self.check_size(record.size, topic)
                pending.append(
                    (entry_id, await producer.send(topic, record.value, key=record.key, headers=record.headers))
                )
            except Exception as exc:
                errors[entry_id] = exc
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        for (entry_id, _), result in zip(pending, results, strict=True):
            if isinstance(result, BaseException):
                errors[entry_id] = result
        return errors


def _tls_refusal(exc: BaseException, broker: str) -> AuthenticationError | None:
    """The TLS handshake failure behind ``exc``, as an error naming the fields to check; else None."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, ssl.SSLError):
        seen = seen.__cause__ or seen.__context__
    if isinstance(seen, ssl.SSLCertVerificationError):
        return AuthenticationError(
            f"the TLS certificate of broker {broker} is not trusted ({seen.verify_message}); check 'caCert'"
        )
    if isinstance(seen, ssl.SSLError) and "ALERT" in (seen.reason or ""):
        return AuthenticationError(
            f"broker {broker} refused the TLS handshake ({seen.reason}); check 'clientCert' and 'clientKey'"
        )
    return None


def _is_auth_error(exc: BaseException) -> bool:
    return isinstance(
        exc,
        (
            kerr.SaslAuthenticationFailed,
            kerr.AuthenticationFailedError,
            kerr.AuthenticationMethodNotSupported,
            kerr.UnsupportedSaslMechanismError,
            kerr.IllegalSaslStateError,
        ),
    )


_UNAVAILABLE = (
    kerr.KafkaConnectionError,
    kerr.KafkaTimeoutError,
    kerr.RequestTimedOutError,
    kerr.NodeNotReadyError,
    kerr.NotLeaderForPartitionError,
    kerr.LeaderNotAvailableError,
    kerr.CoordinatorNotAvailableError,
    kerr.NotEnoughReplicasError,
    kerr.NotEnoughReplicasAfterAppendError,
    kerr.NoBrokersAvailable,
)


def translate_error(exc: BaseException) -> type[BlockyardError] | BlockyardError | None:
    """aiokafka exception -> Blockyard error class (``None``: the default mapping)."""
    if _is_auth_error(exc):
        return AuthenticationError("the brokers refused the SASL credentials")
    if isinstance(exc, (kerr.TopicAuthorizationFailedError, kerr.GroupAuthorizationFailedError)):
        return AuthenticationError
    if isinstance(exc, (kerr.MessageSizeTooLargeError, kerr.RecordTooLargeError)):
        return InvalidRequestError("the message is larger than the broker or maxMessageBytes accepts")
    if isinstance(exc, (kerr.UnknownTopicOrPartitionError, kerr.InvalidTopicError)):
        return InvalidRequestError
    if isinstance(exc, _UNAVAILABLE):
        return BackendUnavailableError
    if isinstance(exc, kerr.KafkaError):
        return BackendError
    return None


async def _quietly(aw: Any) -> None:
    with contextlib.suppress(Exception):
        await aw


class KafkaClientMixin:
    """Lifecycle on one :class:`KafkaClient`; mix in before the building block's base.

    ``init()`` starts the client and calls :meth:`_prepare` (e.g. to create a topic); ``close()``
    stops it; ``ping()`` is a round trip to the cluster; aiokafka's errors become Blockyard's.
    """

    meta: Any
    name: str
    log: logging.Logger
    _client: KafkaClient | None = None

    async def _init(self) -> None:
        client = KafkaClient(self.meta, log=self.log, name=self.name)
        await client.start()
        try:
            await self._prepare(client)
        except BaseException:
            await client.close()
            raise
        self._client = client

    async def _prepare(self, client: KafkaClient) -> None:
        """Called once the client is started, before the component is ready; nothing by default."""

    async def _close(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def _ping(self) -> None:
        await self._kafka().ping()

    def _translate_error(self, exc: BaseException) -> type[BlockyardError] | BlockyardError | None:
        return translate_error(exc)

    def _kafka(self) -> KafkaClient:
        assert self._client is not None, "used before init"
        return self._client

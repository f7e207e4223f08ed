"""Typed metadata of ``pubsub.rabbitmq`` and ``bindings.rabbitmq`` (Dapr's names).

Importing this module does not import pika. Fields Dapr defines that Blockyard does not implement
are listed in ``unsupported`` and rejected at load.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from blockyard.metadata import ByteSize, ComponentMetadata, Duration, PositiveDuration, SecretStr, meta

__all__ = ["RabbitMQBindingMetadata", "RabbitMQPubSubMetadata", "TLSFields"]

NonNegativeInt = Annotated[int, Field(ge=0)]


def _check_url(value: SecretStr | None, name: str) -> None:
    if value is not None and not value.get_secret_value().startswith(("amqp://", "amqps://")):
        raise ValueError(f"field {name!r} must be an amqp:// or amqps:// URL")


class TLSFields(ComponentMetadata):
    """TLS settings shared by both components; used when the URL scheme is ``amqps``."""

    ca_cert: str | None = meta(
        None, description="PEM CA certificate(s) that sign the broker's certificate (TLS).", example="-----BEGIN ..."
    )
    client_cert: SecretStr | None = meta(None, description="PEM client certificate for mutual TLS.")
    client_key: SecretStr | None = meta(None, description="PEM private key of the client certificate.")

    @model_validator(mode="after")
    def _client_pair(self) -> Self:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("fields 'clientCert' and 'clientKey' must be given together")
        return self


class _Connection(TLSFields):
    connect_timeout: PositiveDuration = meta(
        timedelta(seconds=10),
        description="Time allowed to open the connection (TCP, TLS and AMQP handshake); Blockyard's own.",
        example="10s",
    )
    heart_beat: Duration = meta(
        timedelta(seconds=10), alias="heartBeat", description="AMQP heartbeat interval (0 disables).", example="30s"
    )


class RabbitMQPubSubMetadata(_Connection):
    """Metadata of ``pubsub.rabbitmq``."""

    unsupported: ClassVar[Mapping[str, str]] = {
        "publishMessagePropertiesToMetadata": "copying AMQP message properties into metadata is not implemented",
    }

    connection_string: SecretStr | None = meta(
        None,
        alias="connectionString",
        aliases=("host",),
        description="AMQP URL amqp[s]://user:password@host:port/vhost (sensitive: it holds the password).",
        example="amqp://guest:guest@localhost:5672/",
    )
    hostname: str | None = meta(
        None, description="Broker host[:port]; the alternative to connectionString.", example="localhost"
    )
    protocol: Literal["amqp", "amqps"] = meta(
        "amqp", description="amqp or amqps, with hostname.", allowed=("amqp", "amqps")
    )
    username: str | None = meta(None, description="User name, with hostname.")
    password: SecretStr | None = meta(None, description="Password, with hostname.")
    sasl_external: bool = meta(False, description="Authenticate with the TLS client certificate (SASL EXTERNAL).")
    consumer_id: str | None = meta(
        None,
        alias="consumerID",
        description="Default consumer group: subscriptions use the queue '<consumerID>-<topic>'.",
        example="orders-service",
    )
    durable: bool = meta(False, description="Declare subscription queues durable (they survive a broker restart).")
    deleted_when_unused: bool = meta(
        True,
        alias="deletedWhenUnused",
        description="Declare subscription queues auto-delete (gone with their last consumer).",
    )
    auto_ack: bool = meta(
        False, description="Consume without acknowledgements (at-most-once: a failed message is lost)."
    )
    delivery_mode: Annotated[int, Field(ge=0, le=2)] = meta(
        0, description="2 publishes persistent messages; 0 or 1 transient ones.", example="2"
    )
    requeue_in_failure: bool = meta(
        True,
        description=(
            "Requeue a message whose handler failed or asked for RETRY (at-least-once). Blockyard's default is true "
            "(Dapr's is false); with false a failed message is dropped or dead-lettered."
        ),
    )
    prefetch_count: NonNegativeInt = meta(0, description="Unacknowledged messages per subscription (0 = unlimited).")
    reconnect_wait: Duration = meta(
        timedelta(seconds=3),
        alias="reconnectWaitSeconds",
        aliases=("reconnectWait",),
        description=(
            "First wait before reconnecting (0: at once, as in Dapr); it doubles per failed attempt "
            "(from at least 100 ms), up to 10x (at least 30 s)."
        ),
        example="3s",
    )
    concurrency: Literal["parallel", "single"] = meta(
        "parallel",
        aliases=("concurrencyMode",),
        description="parallel runs handlers concurrently (bounded by prefetchCount); single one at a time.",
        allowed=("parallel", "single"),
    )
    enable_dead_letter: bool = meta(
        False, description="Route rejected messages to the exchange 'dlx-<queue>' and queue 'dlq-<queue>'."
    )
    max_len: NonNegativeInt | None = meta(None, description="Maximum number of messages in a queue (x-max-length).")
    max_len_bytes: ByteSize | None = meta(None, description="Maximum total size of a queue (x-max-length-bytes).")
    exchange_kind: Literal["fanout", "topic", "direct", "headers"] = meta(
        "fanout",
        description="Kind of the exchange declared per topic.",
        allowed=("fanout", "topic", "direct", "headers"),
    )
    ttl_in_seconds: PositiveDuration | None = meta(
        None, description="Queue-level message TTL (x-message-ttl) of subscription queues.", example="60"
    )
    publisher_confirm: bool = meta(
        True, description="Publish waits for the broker's confirm. Always on; 'false' is rejected."
    )
    client_name: str | None = meta(None, description="Connection name shown by the broker.")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.connection_string is None) == (self.hostname is None):
            raise ValueError("give exactly one of 'connectionString' (alias 'host') or 'hostname'")
        _check_url(self.connection_string, "connectionString")
        if self.connection_string is not None and (self.username or self.password):
            raise ValueError("'username' and 'password' go with 'hostname'; put them in 'connectionString' instead")
        if not self.publisher_confirm:
            raise ValueError(
                "field 'publisherConfirm': 'false' is not supported: publish always returns after the broker "
                "confirmed the message"
            )
        return self


class RabbitMQBindingMetadata(_Connection):
    """Metadata of ``bindings.rabbitmq``."""

    host: SecretStr = meta(
        alias="host",
        aliases=("connectionString",),
        description="AMQP URL amqp[s]://user:password@host:port/vhost (sensitive: it holds the password).",
        example="amqp://guest:guest@localhost:5672/",
    )
    queue_name: str = meta(description="The queue written by 'create' and read by the input side.", example="orders")
    durable: bool = meta(False, description="Declare the queue durable and publish persistent messages.")
    delete_when_unused: bool = meta(False, description="Declare the queue auto-delete.")
    exclusive: bool = meta(False, description="Declare the queue exclusive to this connection.")
    ttl_in_seconds: PositiveDuration | None = meta(
        None,
        alias="ttlInSeconds",
        aliases=("ttl",),
        description="Queue-level message TTL (x-message-ttl).",
        example="60",
    )
    prefetch_count: NonNegativeInt = meta(0, description="Unacknowledged messages of the reader (0 = unlimited).")
    max_priority: Annotated[int, Field(ge=0, le=255)] | None = meta(
        None, description="x-max-priority of the queue (enables message priorities).", example="5"
    )
    content_type: str = meta("text/plain", description="Content type of published messages.")
    reconnect_wait: Duration = meta(
        timedelta(seconds=5),
        alias="reconnectWaitInSeconds",
        aliases=("reconnectWait", "reconnectWaitSeconds"),
        description=(
            "First wait before reconnecting (0: at once, as in Dapr); it doubles per failed attempt "
            "(from at least 100 ms), up to 10x (at least 30 s)."
        ),
        example="5s",
    )
    external_sasl: bool = meta(False, description="Authenticate with the TLS client certificate (SASL EXTERNAL).")

    @model_validator(mode="after")
    def _check(self) -> Self:
        _check_url(self.host, "host")
        return self

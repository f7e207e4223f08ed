"""Typed metadata of ``pubsub.kafka`` and ``bindings.kafka`` (Dapr's KAFKA-CONN names).

Importing this module does not import aiokafka. Fields Dapr defines that Blockyard does not
implement (OIDC, AWS IAM, the schema registry / Avro, sarama's tuning knobs) are listed in
``unsupported`` and rejected at load with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, field_validator, model_validator

from blockyard.metadata import ByteSize, CommaList, ComponentMetadata, Duration, PositiveDuration, SecretStr, meta

__all__ = ["KafkaBindingMetadata", "KafkaMetadata", "KafkaPubSubMetadata", "SASL_MECHANISMS"]

PositiveInt = Annotated[int, Field(ge=1)]

SASL_MECHANISMS: Mapping[str, str] = {
    "plaintext": "PLAIN",
    "plain": "PLAIN",
    "sha-256": "SCRAM-SHA-256",
    "scram-sha-256": "SCRAM-SHA-256",
    "sha-512": "SCRAM-SHA-512",
    "scram-sha-512": "SCRAM-SHA-512",
}
"""Dapr's ``saslMechanism`` values (and the SASL names) -> the SASL mechanism used."""

_ACKS = {"all": "all", "-1": "all", "local": "1", "1": "1", "none": "0", "0": "0"}

_OIDC = "OIDC authentication is not implemented; use authType none, password or mtls"
_AWS = "AWS IAM authentication is not implemented; use authType none, password or mtls"
_SCHEMA = "the schema registry (Avro) is not implemented; payloads are passed as bytes"
_SARAMA = "a sarama (Go client) setting with no aiokafka equivalent"

_UNSUPPORTED: Mapping[str, str] = {
    **dict.fromkeys(
        (
            "oidcTokenEndpoint",
            "oidcClientID",
            "oidcClientSecret",
            "oidcScopes",
            "oidcExtensions",
            "oidcClientAssertionCert",
            "oidcClientAssertionKey",
            "oidcResource",
            "oidcAudience",
            "oidcKid",
        ),
        _OIDC,
    ),
    **dict.fromkeys(
        ("awsRegion", "awsAccessKey", "awsSecretKey", "awsSessionToken", "awsIamRoleArn", "awsStsSessionName"),
        _AWS,
    ),
    **dict.fromkeys(
        (
            "schemaRegistryURL",
            "schemaRegistryAPIKey",
            "schemaRegistryAPISecret",
            "schemaCachingEnabled",
            "schemaLatestVersionCacheTTL",
            "useAvroJSON",
            "valueSchemaType",
        ),
        _SCHEMA,
    ),
    "escapeHeaders": "header values are passed through unescaped",
    "excludeHeaderMetaRegex": "every header is copied into the message metadata",
    "clientConnectionKeepAliveInterval": _SARAMA,
    "channelBufferSize": _SARAMA,
    "consumerFetchMin": _SARAMA,
    "consumerFetchDefault": _SARAMA,
}


class KafkaMetadata(ComponentMetadata):
    """The connection settings both components share (Dapr's KAFKA-CONN)."""

    unsupported: ClassVar[Mapping[str, str]] = _UNSUPPORTED

    brokers: CommaList = meta(description="Comma-separated host:port bootstrap brokers.", example="localhost:9092")
    client_id: str = meta(
        "blockyard", alias="clientID", description="Client id sent to the brokers.", example="orders-service"
    )
    auth_type: Literal["none", "password", "mtls"] = meta(
        description="none, password (SASL PLAIN / SCRAM) or mtls (TLS client certificate).",
        example="none",
        allowed=("none", "password", "mtls"),
    )
    sasl_username: str | None = meta(None, alias="saslUsername", description="SASL user name (authType password).")
    sasl_password: SecretStr | None = meta(
        None, alias="saslPassword", description="SASL password (authType password; sensitive)."
    )
    sasl_mechanism: str = meta(
        "PLAINTEXT",
        alias="saslMechanism",
        description="SASL mechanism: PLAINTEXT (SASL PLAIN), SHA-256 or SHA-512 (SCRAM).",
        allowed=("PLAINTEXT", "SHA-256", "SHA-512"),
    )
    disable_tls: bool = meta(
        False,
        alias="disableTls",
        description="Connect without TLS. TLS is used for authType password and mtls unless this is true.",
    )
    skip_verify: bool = meta(False, description="Do not verify the brokers' TLS certificates (tests only).")
    ca_cert: str | None = meta(None, description="PEM CA certificate(s) that sign the brokers' certificates.")
    client_cert: str | None = meta(None, description="PEM client certificate (authType mtls).")
    client_key: SecretStr | None = meta(None, description="PEM private key of the client certificate (sensitive).")
    max_message_bytes: ByteSize = meta(
        1024 * 1024,
        description="Largest message the producer sends; a larger one is refused before it is sent.",
        example="1048576",
    )
    producer_required_acks: str = meta(
        "all",
        description="Acknowledgements a publish waits for: all (every in-sync replica) or local (the leader).",
        allowed=("all", "local"),
    )
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = meta(
        "none",
        description="Producer compression (snappy, lz4 and zstd need their Python codec installed).",
        allowed=("none", "gzip", "snappy", "lz4", "zstd"),
    )
    version: str | None = meta(None, description="Broker protocol version (aiokafka negotiates it; informational).")
    dial_timeout: PositiveDuration = meta(
        timedelta(seconds=30),
        description="Time allowed to reach the brokers at init; BackendUnavailableError after.",
        example="5s",
    )
    read_timeout: PositiveDuration = meta(
        timedelta(seconds=30),
        description="Request timeout of the clients (produce, fetch, admin).",
        example="30s",
    )
    write_timeout: PositiveDuration = meta(
        timedelta(seconds=30),
        description="Longest wait for one publish to be acknowledged; BackendUnavailableError after.",
        example="30s",
    )
    metadata_timeout: Duration = meta(
        timedelta(0), description="Accepted for compatibility; aiokafka bounds metadata requests by readTimeout."
    )
    client_connection_topic_metadata_refresh_interval: PositiveDuration = meta(
        timedelta(minutes=9),
        description="How often topic metadata is refreshed.",
        example="9m",
    )
    producer_retry_max: Annotated[int, Field(ge=0)] = meta(
        5, description="Accepted for compatibility; aiokafka retries a publish until writeTimeout passes."
    )
    create_topics: bool = meta(
        True,
        description=(
            "Create a missing topic (partitions, replicationFactor) on first use; with false a missing topic is an "
            "error. Blockyard's own: the broker's auto-creation is never relied on."
        ),
    )
    partitions: PositiveInt = meta(
        1, aliases=("numPartitions",), description="Partitions of a topic the component creates.", example="4"
    )
    replication_factor: PositiveInt = meta(
        1, description="Replication factor of a topic the component creates.", example="3"
    )

    @field_validator("auth_type", mode="before")
    @classmethod
    def _auth_type(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("oidc", "oidc_private_key_jwt", "awsiam"):
            raise ValueError(f"authType {value.strip()!r} is not implemented; use none, password or mtls")
        return value

    @field_validator("sasl_mechanism")
    @classmethod
    def _mechanism(cls, value: str) -> str:
        mechanism = SASL_MECHANISMS.get(value.strip().lower())
        if mechanism is None:
            raise ValueError("expected PLAINTEXT, SHA-256 or SHA-512")
        return mechanism

    @field_validator("producer_required_acks")
    @classmethod
    def _acks(cls, value: str) -> str:
        acks = _ACKS.get(value.strip().lower())
        if acks is None:
            raise ValueError("expected all or local")
        if acks == "0":
            raise ValueError("'none' is not supported: publish returns only once the broker has the message")
        return acks

    @field_validator("brokers")
    @classmethod
    def _brokers(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("expected at least one host:port")
        return value

    @model_validator(mode="after")
    def _auth(self) -> Self:
        if self.auth_type == "password" and (not self.sasl_username or self.sasl_password is None):
            raise ValueError("authType 'password' needs 'saslUsername' and 'saslPassword'")
        if self.auth_type == "mtls" and (not self.client_cert or self.client_key is None):
            raise ValueError("authType 'mtls' needs 'clientCert' and 'clientKey'")
        if self.auth_type == "mtls" and self.disable_tls:
            raise ValueError("authType 'mtls' needs TLS; remove 'disableTls'")
        return self

    @property
    def uses_tls(self) -> bool:
        """TLS is on for password and mtls unless ``disableTls`` (Dapr's rule); never for none."""
        return self.auth_type != "none" and not self.disable_tls


class _Consumer(KafkaMetadata):
    consumer_group: str | None = meta(
        None, description="The consumer group; subscriptions in one group share the topic's partitions."
    )
    initial_offset: Literal["newest", "oldest"] = meta(
        "newest",
        description="Where a group with no committed offset starts: newest or oldest.",
        allowed=("newest", "oldest"),
    )
    consume_retry_enabled: bool = meta(
        True,
        description=(
            "Retry a failed message (RETRY or an exception) with backoff before its partition moves on. Blockyard's "
            "default is true (Dapr's is false); with false a failed message is logged and skipped."
        ),
    )
    consume_retry_interval: PositiveDuration = meta(
        timedelta(milliseconds=100),
        description="First wait before a retry; it doubles per attempt up to 10x.",
        example="100ms",
    )
    back_off_max_retries: Annotated[int, Field(ge=-1)] = meta(
        -1,
        description=(
            "Retries of a failed message before it is given up: sent to the subscription's dead-letter topic, "
            "else logged and skipped, and its partition moves on. -1 (Dapr's default): no limit -- with a "
            "dead-letter topic, the first failure sends it there, as in Dapr."
        ),
        example="3",
    )
    heartbeat_interval: PositiveDuration = meta(
        timedelta(seconds=3), description="Consumer group heartbeat interval.", example="3s"
    )
    session_timeout: PositiveDuration = meta(
        timedelta(seconds=10),
        description="A member not heard from within this time leaves the group.",
        example="10s",
    )
    consumer_group_rebalance_strategy: Literal["range", "sticky", "roundrobin"] = meta(
        "range",
        description="How partitions are spread over a group's members.",
        allowed=("range", "sticky", "roundrobin"),
    )

    @model_validator(mode="after")
    def _timings(self) -> Self:
        if self.heartbeat_interval >= self.session_timeout:
            raise ValueError("'heartbeatInterval' must be shorter than 'sessionTimeout'")
        return self


class KafkaPubSubMetadata(_Consumer):
    """Metadata of ``pubsub.kafka``."""

    consumer_id: str | None = meta(
        None,
        alias="consumerID",
        description="The consumer group when consumerGroup is not set (Dapr's runtime consumer id).",
    )


class KafkaBindingMetadata(_Consumer):
    """Metadata of ``bindings.kafka``: ``topics`` for the input side, ``publishTopic`` for ``create``."""

    topics: CommaList = meta(
        default_factory=list, description="Topics the input side reads (comma-separated).", example="orders,returns"
    )
    publish_topic: str | None = meta(None, description="The topic 'create' writes to.", example="orders")

    @model_validator(mode="after")
    def _direction(self) -> Self:
        if not self.topics and not self.publish_topic:
            raise ValueError("give 'topics' (input), 'publishTopic' (output) or both")
        return self

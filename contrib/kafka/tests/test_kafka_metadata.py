"""Metadata parsing and the features an instance declares (no broker needed)."""

from __future__ import annotations

from typing import Any

import pytest

from blockyard.errors import ComponentConfigError
from blockyard.pubsub import PubSubFeature
from blockyard.registry import get_registry
from blockyard_kafka.binding import KafkaBinding
from blockyard_kafka.pubsub import KafkaPubSub

BASE = {"brokers": "127.0.0.1:9", "authType": "none"}


def config_error(cls: Any, **md: Any) -> str:
    with pytest.raises(ComponentConfigError) as raised:
        cls({**BASE, **md}, name="k")
    return str(raised.value)


@pytest.mark.parametrize(
    ("field", "why"),
    [
        ("oidcTokenEndpoint", "OIDC"),
        ("oidcClientSecret", "OIDC"),
        ("awsIamRoleArn", "AWS IAM"),
        ("schemaRegistryURL", "schema registry"),
        ("valueSchemaType", "schema registry"),
    ],
)
def test_unimplemented_dapr_fields_are_refused(field: str, why: str) -> None:
    text = config_error(KafkaPubSub, **{field: "x"})
    assert field in text
    assert why in text


@pytest.mark.parametrize("auth", ["oidc", "awsiam"])
def test_unimplemented_auth_types_are_refused(auth: str) -> None:
    text = config_error(KafkaPubSub, authType=auth)
    assert "authType" in text
    assert "not implemented" in text


def test_required_fields_are_named() -> None:
    with pytest.raises(ComponentConfigError) as raised:
        KafkaPubSub({}, name="k")
    assert "brokers" in str(raised.value)
    assert "authType" in str(raised.value)


def test_password_auth_needs_credentials_and_hides_the_password() -> None:
    assert "saslPassword" in config_error(KafkaPubSub, authType="password", saslUsername="u")
    text = config_error(KafkaPubSub, authType="password", saslPassword="hunter2-secret", saslMechanism="MD5")
    assert "saslMechanism" in text
    assert "hunter2-secret" not in text


@pytest.mark.parametrize(
    ("given", "mechanism"),
    [
        ("PLAINTEXT", "PLAIN"),
        ("sha-256", "SCRAM-SHA-256"),
        ("SHA-512", "SCRAM-SHA-512"),
        ("SCRAM-SHA-512", "SCRAM-SHA-512"),
    ],
)
def test_sasl_mechanism_names(given: str, mechanism: str) -> None:
    md = {**BASE, "authType": "password", "saslUsername": "u", "saslPassword": "p", "saslMechanism": given}
    assert KafkaPubSub(md).meta.sasl_mechanism == mechanism


def test_tls_follows_dapr_rule() -> None:
    password = {**BASE, "authType": "password", "saslUsername": "u", "saslPassword": "p"}
    assert not KafkaPubSub(BASE).meta.uses_tls
    assert KafkaPubSub(password).meta.uses_tls
    assert not KafkaPubSub({**password, "disableTls": "true"}).meta.uses_tls


def test_acks_none_is_refused() -> None:
    assert "producerRequiredAcks" in config_error(KafkaPubSub, producerRequiredAcks="none")
    assert KafkaPubSub({**BASE, "producerRequiredAcks": "local"}).meta.producer_required_acks == "1"


def test_heartbeat_must_be_shorter_than_session() -> None:
    assert "heartbeatInterval" in config_error(KafkaPubSub, heartbeatInterval="10s", sessionTimeout="5s")


def test_binding_needs_a_direction() -> None:
    assert "publishTopic" in config_error(KafkaBinding)


def test_features_follow_the_configuration() -> None:
    full = KafkaPubSub(BASE)
    assert PubSubFeature.REDELIVERY in full.features
    assert PubSubFeature.ORDERED in full.features
    no_retry = KafkaPubSub({**BASE, "consumeRetryEnabled": "false"})
    assert PubSubFeature.REDELIVERY not in no_retry.features
    partitioned = KafkaPubSub({**BASE, "partitions": "4"})
    assert PubSubFeature.ORDERED not in partitioned.features
    assert PubSubFeature.CONSUMER_GROUPS in partitioned.features


def test_default_consumer_group() -> None:
    assert KafkaPubSub(BASE, name="n").default_consumer_group == "n"
    assert KafkaPubSub({**BASE, "consumerID": "c"}, name="n").default_consumer_group == "c"
    assert KafkaPubSub({**BASE, "consumerID": "c", "consumerGroup": "g"}, name="n").default_consumer_group == "g"


def test_registered_specs_match_the_classes() -> None:
    registry = get_registry()
    assert registry.resolve("pubsub.kafka") is KafkaPubSub
    assert registry.resolve("bindings.kafka") is KafkaBinding
    assert set(registry.spec("pubsub.kafka").features) == {str(f) for f in KafkaPubSub.features}
    assert set(registry.spec("bindings.kafka").operations) == set(KafkaBinding.operations)

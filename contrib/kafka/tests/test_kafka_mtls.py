"""authType mtls against a broker that requires a client certificate: the round trip, and clear
errors for a certificate the broker does not accept and for a broker the client does not trust;
the private key never reaches a log, a repr or an error."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from kafka_servers import Broker, fresh

from blockyard.errors import AuthenticationError
from blockyard.pubsub import Message
from blockyard_conformance.backends.native._tls import issue_test_pki
from blockyard_kafka.pubsub import KafkaPubSub


def _assert_no_key(key: str, *texts: str) -> None:
    body = key.split("-----")[2].strip()  # the base64 body, whatever the framing lines
    for text in texts:
        assert body not in text
        assert body.splitlines()[0] not in text


async def test_publish_and_subscribe_with_a_client_certificate(
    kafka_mtls: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    topic, got = fresh(), asyncio.Event()
    received: list[bytes] = []

    async def handler(message: Message) -> None:
        received.append(message.data)
        got.set()

    async with (
        KafkaPubSub(kafka_mtls.metadata(), name="mtls") as pubsub,
        await pubsub.subscribe(topic, handler, consumer_group=fresh("g")),
    ):
        await pubsub.publish(topic, b"over tls")
        await asyncio.wait_for(got.wait(), 60)
        assert received == [b"over tls"]
        assert kafka_mtls.tls is not None
        _assert_no_key(kafka_mtls.tls["clientKey"], caplog.text, repr(pubsub), repr(pubsub.meta))


async def test_a_client_certificate_of_another_authority_is_refused(
    kafka_mtls: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stranger = issue_test_pki(tmp_path / "other-ca")
    md = kafka_mtls.metadata(clientCert=stranger.client_cert, clientKey=stranger.client_key, dialTimeout="10s")
    pubsub = KafkaPubSub(md, name="stranger")
    with pytest.raises(AuthenticationError) as raised:
        await pubsub.init()
    await pubsub.close()
    assert "stranger" in str(raised.value)
    assert "refused the TLS handshake" in str(raised.value)
    assert "'clientCert'" in str(raised.value)
    _assert_no_key(stranger.client_key, str(raised.value), repr(pubsub), caplog.text)


async def test_a_broker_signed_by_an_unknown_authority_is_not_trusted(kafka_mtls: Broker, tmp_path: Path) -> None:
    other = issue_test_pki(tmp_path / "other-ca")
    pubsub = KafkaPubSub(kafka_mtls.metadata(caCert=other.ca_cert, dialTimeout="10s"), name="untrusting")
    with pytest.raises(AuthenticationError) as raised:
        await pubsub.init()
    await pubsub.close()
    assert "untrusting" in str(raised.value)
    assert "not trusted" in str(raised.value)
    assert "'caCert'" in str(raised.value)

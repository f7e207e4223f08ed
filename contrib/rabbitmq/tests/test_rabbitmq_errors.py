"""Bad input against a real broker: credentials, vhost, unreachable and silent servers; the
connection string (it holds the password) never shows in errors, reprs or logs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from rabbitmq_testing import Broker

from blockyard.errors import AuthenticationError, BackendUnavailableError, ComponentConfigError
from blockyard_conformance.testing import free_port, silent_port
from blockyard_rabbitmq.binding import RabbitMQBinding
from blockyard_rabbitmq.pubsub import RabbitMQPubSub

pytestmark = pytest.mark.backend("rabbitmq")

SECRET = "s3cr3t-Pa55word-xyz"


def with_auth(broker: Broker, user: str, password: str, vhost: str = "") -> str:
    port = urlsplit(broker.url).port
    return f"amqp://{user}:{password}@127.0.0.1:{port}/{vhost}"


@pytest.fixture
def closed_port() -> int:
    return free_port()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never answers."""
    with silent_port() as port:
        yield port


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


async def test_wrong_password_is_an_authentication_error(broker: Broker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = with_auth(broker, "guest", SECRET)
    ps = RabbitMQPubSub({"connectionString": url}, name="auth")
    with pytest.raises(AuthenticationError) as info:
        await ps.init()
    assert "credentials" in str(info.value)
    assert "'auth'" in str(info.value)
    assert_no_secret(str(info.value), repr(info.value), repr(ps), repr(ps.meta), caplog.text)
    binding = RabbitMQBinding({"host": url, "queueName": "never"}, name="auth-b")
    with pytest.raises(AuthenticationError):
        await binding.init()
    assert_no_secret(repr(binding.meta), caplog.text)


async def test_unknown_vhost_is_named(broker: Broker) -> None:
    ps = RabbitMQPubSub({"connectionString": with_auth(broker, "guest", "guest", "no-such-vhost")})
    with pytest.raises(ComponentConfigError, match="virtual host 'no-such-vhost' does not exist"):
        await ps.init()


async def test_unreachable_host_fails_fast(closed_port: int) -> None:
    ps = RabbitMQPubSub({"connectionString": f"amqp://guest:{SECRET}@127.0.0.1:{closed_port}/"})
    with pytest.raises(BackendUnavailableError) as info:
        await ps.init()
    assert "Connection refused" in str(info.value)
    assert_no_secret(str(info.value))


async def test_silent_server_times_out_instead_of_hanging(silent_server: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"amqp://guest:{SECRET}@127.0.0.1:{silent_server}/"
    ps = RabbitMQPubSub({"connectionString": url, "connectTimeout": "1s"})
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError):
        await ps.init()
    assert time.monotonic() - started < 3.0
    assert_no_secret(caplog.text)


def test_config_errors_do_not_echo_the_connection_string() -> None:
    with pytest.raises(ComponentConfigError, match="amqp://") as info:
        RabbitMQPubSub({"connectionString": f"http://guest:{SECRET}@127.0.0.1/"})
    with pytest.raises(ComponentConfigError, match="'host' must be an amqp") as info2:
        RabbitMQBinding({"host": f"http://guest:{SECRET}@127.0.0.1/", "queueName": "q"})
    with pytest.raises(ComponentConfigError, match="username") as info3:
        RabbitMQPubSub({"connectionString": f"amqp://guest:{SECRET}@127.0.0.1/", "password": SECRET})
    ps = RabbitMQPubSub({"connectionString": f"amqp://guest:{SECRET}@127.0.0.1/"}, name="p")
    assert_no_secret(str(info.value), str(info2.value), str(info3.value), repr(ps.meta), repr(ps))

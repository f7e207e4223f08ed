"""Fixtures: the real broker (session), an admin client, and a per-test namespace of exchange and
queue names that is deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pika.exceptions
import pytest
from rabbitmq_testing import Broker, get_broker, restartable_broker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests reaching the broker through these fixtures carry ``backend("rabbitmq")``."""
    try:
        from blockyard_conformance.real_backends import mark_backend_fixtures
    except ImportError:  # the kit is not installed: the fixtures start their own broker
        return
    mark_backend_fixtures(items, broker="rabbitmq", own_broker="rabbitmq")


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    try:
        found = get_broker()
    except RuntimeError as exc:  # only without the kit's launcher: it decides not run / failed itself
        pytest.skip(f"RabbitMQ is not available: {exc}")
    yield found
    found.stop()


@pytest.fixture
def own_broker() -> Iterator[Broker]:
    """A broker of the test's own, which it may restart (see :func:`restartable_broker`)."""
    try:
        with restartable_broker() as found:
            yield found
    except RuntimeError as exc:  # only without the kit's launcher
        pytest.skip(f"RabbitMQ is not available: {exc}")


class Admin:
    """A blocking pika client for assertions on the broker's side."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None
        self.ch: Any = None

    def _channel(self) -> Any:
        if self.conn is None or not self.conn.is_open:
            self.conn = pika.BlockingConnection(pika.URLParameters(self.url))
            self.ch = None
        if self.ch is None or not self.ch.is_open:
            self.ch = self.conn.channel()
        return self.ch

    def count(self, queue: str) -> int:
        """Ready messages in ``queue`` (-1 when it does not exist)."""
        try:
            return int(self._channel().queue_declare(queue, passive=True).method.message_count)
        except pika.exceptions.ChannelClosedByBroker:
            return -1

    def exchange_exists(self, exchange: str) -> bool:
        try:
            self._channel().exchange_declare(exchange, passive=True)
            return True
        except pika.exceptions.ChannelClosedByBroker:
            return False

    def get(self, queue: str) -> bytes | None:
        _method, _props, body = self._channel().basic_get(queue, auto_ack=True)
        return body  # type: ignore[no-any-return]

    def delete(self, queues: list[str], exchanges: list[str]) -> None:
        for q in queues:
            try:
                self._channel().queue_delete(q)
            except pika.exceptions.AMQPError:
                pass
        for e in exchanges:
            try:
                self._channel().exchange_delete(e)
            except pika.exceptions.AMQPError:
                pass

    def close(self) -> None:
        if self.conn is not None and self.conn.is_open:
            self.conn.close()


@pytest.fixture
def admin(broker: Broker) -> Iterator[Admin]:
    a = Admin(broker.url)
    yield a
    a.close()


class Namespace:
    """Unique names for one test; everything named through it is deleted at teardown."""

    def __init__(self) -> None:
        self.prefix = f"t{uuid.uuid4().hex[:10]}"
        self.exchanges: list[str] = []
        self.queues: list[str] = []

    def topic(self, name: str = "topic") -> str:
        full = f"{self.prefix}-{name}"
        self.exchanges.append(full)
        return full

    def group(self, name: str = "g") -> str:
        return f"{self.prefix}{name}"

    def queue(self, name: str) -> str:
        """Register a queue (and its dead-letter pair) for deletion; returns ``name``."""
        self.queues += [name, f"dlq-{name}"]
        self.exchanges.append(f"dlx-{name}")
        return name


@pytest.fixture
def ns(admin: Admin) -> Iterator[Namespace]:
    n = Namespace()
    yield n
    admin.delete(n.queues, n.exchanges)

"""Fixtures: the real broker (session), an admin client, and a per-test namespace of exchange and
queue names that is deleted afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rabbitmq_testing import Admin, Broker, Namespace, get_broker, restartable_broker


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


@pytest.fixture
def admin(broker: Broker) -> Iterator[Admin]:
    a = Admin(broker.url)
    yield a
    a.close()


@pytest.fixture
def ns(admin: Admin) -> Iterator[Namespace]:
    n = Namespace()
    yield n
    admin.delete(n.queues, n.exchanges)

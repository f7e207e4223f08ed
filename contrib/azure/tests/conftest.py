"""Fixtures: the Cosmos DB emulator from the launcher, component metadata for it, a raw SDK client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cosmos_testing import launcher_endpoint

from blockyard_azure.state import CosmosDBStateStore


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests reaching a real server through these fixtures carry ``backend(name)`` (counted, decided up front)."""
    try:
        from blockyard_conformance.real_backends import mark_backend_fixtures
    except ImportError:  # the kit is not installed: the fixtures skip without it
        return
    mark_backend_fixtures(items, cosmos="cosmosdb")


@pytest.fixture(scope="session")
def cosmos() -> Any:
    """The launcher's ``cosmosdb`` endpoint (``@vercel/cosmosdb-server`` natively)."""
    return launcher_endpoint()


@pytest.fixture
def props(cosmos: Any) -> dict[str, str]:
    """Metadata of a component on the seeded database and container."""
    return {
        "url": cosmos.url,
        "masterKey": cosmos.params["masterKey"],
        "database": cosmos.params["database"],
        "collection": cosmos.params["collection"],
    }


@pytest.fixture
def ns() -> str:
    """A fresh key prefix per test."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def store(props: dict[str, str]) -> AsyncIterator[CosmosDBStateStore]:
    async with CosmosDBStateStore(props, name="cosmos-test") as s:
        yield s


@pytest.fixture
async def raw(props: dict[str, str]) -> AsyncIterator[Any]:
    """The seeded container on a plain ``azure.cosmos.aio`` client, to see what the components wrote."""
    from azure.cosmos.aio import CosmosClient

    async with CosmosClient(props["url"], credential=props["masterKey"]) as client:
        yield client.get_database_client(props["database"]).get_container_client(props["collection"])

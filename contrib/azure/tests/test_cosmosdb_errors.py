"""Failure modes of the Cosmos DB components: credentials, reachability, resources, throttling, secrets."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from cosmos_testing import started_proxy

from blockyard.errors import AuthenticationError, BackendUnavailableError, ComponentConfigError
from blockyard_azure.binding import CosmosDBBinding
from blockyard_azure.state import CosmosDBStateStore
from blockyard_conformance.testing import free_port

WRONG_KEY = "d3Jvbmcta2V5LW9mLWV4YWN0bHktdGhlLXJpZ2h0LWxlbmd0aC1mb3ItY29zbW9zZGItdGVzdHMtYWFhYWFhYWE="


async def test_wrong_key_is_an_authentication_error_without_the_key(
    props: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Cosmos DB answers a wrong key with 401 (the emulator accepts any key, so a proxy answers for it)."""
    caplog.set_level(logging.DEBUG)
    proxy = await started_proxy(props["url"], refuse_auth=True)
    md = {**props, "url": proxy.url, "endpointDiscovery": "false", "masterKey": WRONG_KEY}
    store = CosmosDBStateStore(md, name="wrong-key")
    try:
        with pytest.raises(AuthenticationError, match="masterKey") as raised:
            await store.init()
        await store.close()
    finally:
        await proxy.stop()
    for text in (str(raised.value), repr(store), caplog.text):
        assert WRONG_KEY not in text


async def test_unreachable_endpoint_fails_within_the_connection_timeout(props: dict[str, str]) -> None:
    url = f"https://127.0.0.1:{free_port()}/"
    store = CosmosDBStateStore({**props, "url": url, "connectionTimeout": "1s"}, name="unreachable")
    with pytest.raises(BackendUnavailableError, match="cannot reach"):
        await store.init()
    await store.close()


async def test_missing_database_and_container_are_named(props: dict[str, str]) -> None:
    with pytest.raises(ComponentConfigError, match=r"'database'.*no-such-db"):
        await CosmosDBStateStore({**props, "database": "no-such-db"}, name="s").init()
    with pytest.raises(ComponentConfigError, match=r"'collection'.*no-such-container"):
        await CosmosDBBinding({**props, "collection": "no-such-container", "partitionKey": "pk"}, name="b").init()


def test_entra_id_metadata_is_refused_and_required_fields_named(props: dict[str, str]) -> None:
    with pytest.raises(ComponentConfigError, match="azureClientId"):
        CosmosDBStateStore({**props, "azureClientId": "x"}, name="s")
    for bad in ({"maxRetryAttempts": "0"}, {"connectionTimeout": "0s"}):
        with pytest.raises(ComponentConfigError, match=next(iter(bad))):
            CosmosDBStateStore({**props, **bad}, name="s")
    for field in ("url", "masterKey", "database", "collection"):
        with pytest.raises(ComponentConfigError, match=field):
            CosmosDBStateStore({k: v for k, v in props.items() if k != field}, name="s")


async def test_throttling_is_retried_after_the_requested_wait(props: dict[str, str], ns: str) -> None:
    """A 429 with ``x-ms-retry-after-ms`` (injected by a proxy in front of the emulator) is retried."""
    proxy = await started_proxy(props["url"], throttle=3, retry_after_ms=30)
    try:
        md = {**props, "url": proxy.url, "endpointDiscovery": "false"}
        async with CosmosDBStateStore(md, name="throttled") as store:
            await store.set(f"{ns}-k", {"v": 1})
            assert proxy.throttled == 3
            assert (await store.get(f"{ns}-k")).json() == {"v": 1}
            await store.delete(f"{ns}-k")
        proxy.throttled, proxy.throttle = 0, 50
        async with CosmosDBStateStore({**md, "maxRetryAttempts": "2"}, name="throttled") as store:
            with pytest.raises(BackendUnavailableError, match="throttled"):
                await store.set(f"{ns}-k", {"v": 2})
            assert proxy.throttled == 3, "expected the first try and 2 retries"
    finally:
        await proxy.stop()


async def test_no_key_in_logs_reprs_or_errors(props: dict[str, str], ns: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = props["masterKey"]
    async with CosmosDBStateStore(props, name="secretive") as store:
        await store.set(f"{ns}-k", {"v": 1})
        await store.get(f"{ns}-k")
        await store.query({"filter": {"EQ": {"v": 1}}, "page": {"limit": 1}})
        await store.delete(f"{ns}-k")
        texts: list[Any] = [repr(store), repr(store.meta), str(store.meta)]
    try:
        CosmosDBStateStore({**props, "url": 5}, name="bad")  # type: ignore[dict-item]
    except ComponentConfigError as exc:
        texts.append(str(exc))
    texts.append(caplog.text)
    for text in texts:
        assert key not in text

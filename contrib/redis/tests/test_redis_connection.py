"""Metadata, plugin specs, bad credentials and unreachable servers, for the three components."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from redis_servers import Server

from blockyard.errors import AuthenticationError, BackendUnavailableError, ComponentConfigError
from blockyard.registry import get_registry
from blockyard_conformance.testing import free_port, silent_port
from blockyard_redis import plugin
from blockyard_redis.bindings import RedisBinding
from blockyard_redis.pubsub import RedisPubSub
from blockyard_redis.state import RedisStateStore

COMPONENTS = [RedisStateStore, RedisPubSub, RedisBinding]


def test_specs_match_the_classes() -> None:
    for spec in plugin.blockyard_components():
        cls = get_registry().resolve(spec.type)
        assert set(spec.features) == {f.value for f in cls.features}, spec.type
        assert set(spec.operations) == set(getattr(cls, "operations", ())), spec.type
    assert [p.name for p in plugin.blockyard_conformance_cases()] == ["cases.yaml"]
    assert plugin.blockyard_conformance_cases()[0].is_file()


def test_cases_file_names_the_three_components() -> None:
    import yaml

    cases = yaml.safe_load(plugin.blockyard_conformance_cases()[0].read_text())["cases"]
    assert [c["id"] for c in cases] == ["state.redis", "pubsub.redis", "bindings.redis", "state.redis-auth"]
    assert [c["backend"] for c in cases] == ["redis", "redis", "redis", "redis-auth"]
    assert cases[0]["knobs"] == {
        "bad_etag": "9999999",
        "restart_backend": True,
        "kill_backend": True,
        "network_faults": True,
        "operation_timeout": 15,
    }


def test_plugin_module_imports_no_redis_client() -> None:
    import subprocess
    import sys

    code = "import sys, blockyard_redis.plugin as p; p.blockyard_components(); print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("cls", COMPONENTS)
@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("redisType", "cluster", "cluster mode is not implemented"),
        ("failover", "true", "Sentinel failover is not implemented"),
        ("sentinelMasterName", "mymaster", "Sentinel failover is not implemented"),
        ("useEntraID", "true", "Entra ID"),
        ("oidcTokenEndpoint", "https://idp", "OIDC"),
        ("clientCert", "PEM", "client certificates"),
        ("idleTimeout", "5m", "no equivalent"),
        ("redisDB", "-1", ">= 0"),
        ("dialTimeout", "soon", "duration"),
    ],
)
def test_unsupported_or_bad_fields_are_rejected(cls: Any, field: str, value: str, expected: str) -> None:
    with pytest.raises(ComponentConfigError, match=expected) as info:
        cls({"redisHost": "localhost:6379", field: value}, name="c")
    assert field in str(info.value)
    assert "component 'c'" in str(info.value)


def test_supported_values_of_restricted_fields_load() -> None:
    store = RedisStateStore({"redisHost": "h", "redisType": "node", "failover": "false", "redisPort": "7000"})
    assert store.meta.address() == ("h", 7000)
    assert RedisStateStore({"redisHost": "[::1]:7001"}).meta.address() == ("::1", 7001)


def test_cluster_host_list_and_missing_host_are_rejected() -> None:
    with pytest.raises(ComponentConfigError, match="cluster"):
        RedisBinding({"redisHost": "a:1,b:2"})
    with pytest.raises(ComponentConfigError, match="'redisHost' is required"):
        RedisBinding({})


def test_password_never_in_repr_or_config_errors(caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cr3t-Pa55word"
    caplog.set_level(logging.DEBUG)
    store = RedisStateStore({"redisHost": "h:1", "redisPassword": secret, "unknownField": "x"}, name="c")
    with pytest.raises(ComponentConfigError) as info:
        RedisStateStore({"redisHost": "h:1", "redisPassword": secret, "redisDB": "x"}, name="c")
    texts = [repr(store), repr(store.meta), str(store.meta), str(info.value), caplog.text]
    assert all(secret not in t for t in texts)


@pytest.mark.parametrize("cls", COMPONENTS)
async def test_wrong_password_is_an_authentication_error(
    cls: Any, redis_auth_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-Password-123"
    component = cls(redis_auth_server.metadata(redisPassword=wrong), name="guarded")
    with pytest.raises(AuthenticationError) as info:
        await component.init()
    assert info.value.component == "guarded"
    assert wrong not in str(info.value)
    assert wrong not in repr(info.value.__cause__)
    assert wrong not in caplog.text
    assert wrong not in repr(component)


async def test_no_password_on_a_protected_server_is_an_authentication_error(redis_auth_server: Server) -> None:
    with pytest.raises(AuthenticationError, match="guarded"):
        await RedisStateStore({"redisHost": redis_auth_server.address}, name="guarded").init()


async def test_right_password_works(redis_auth_server: Server, ns: str) -> None:
    async with RedisStateStore(redis_auth_server.metadata(), name="guarded") as store:
        await store.set(ns, 1)
        assert (await store.get(ns)).json() == 1


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections (kernel backlog) but never answers."""
    with silent_port() as port:
        yield port


@pytest.mark.parametrize("cls", COMPONENTS)
async def test_refused_connection_is_backend_unavailable(cls: Any) -> None:
    component = cls({"redisHost": f"127.0.0.1:{free_port()}", "dialTimeout": "60s"}, name="down")
    t0 = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        await component.init()
    assert time.monotonic() - t0 < 30  # a refusal is final: no waiting out the 60 s dialTimeout
    assert info.value.component == "down"
    assert info.value.operation == "init"


@pytest.mark.parametrize("cls", COMPONENTS)
async def test_silent_server_fails_within_dial_timeout(cls: Any, silent_server: int) -> None:
    meta = {"redisHost": f"127.0.0.1:{silent_server}", "dialTimeout": "1s", "readTimeout": "120s"}
    component = cls(meta, name="mute")
    t0 = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="dialTimeout"):
        await component.init()
    assert time.monotonic() - t0 < 60  # bounded by the 1 s dialTimeout, not the 120 s readTimeout

"""Cosmos DB behind a proxy: ``endpointDiscovery: false`` keeps the SDK on ``url``.

The account (and the emulator) advertises its own endpoint in its root document; with endpoint
discovery on, the SDK follows it around a proxy in front of ``url``, and the kit's cut probe says
so. With it off, every request goes through the proxy: the ``state.azure.cosmosdb`` case's
network-fault tests cut it.
"""

from __future__ import annotations

from typing import Any

import pytest

from blockyard_azure.state import CosmosDBStateStore

faults = pytest.importorskip("blockyard_conformance.faults", reason="blockyard-conformance is not installed")

PROBE_TIMEOUT = 3.0


async def _cut_through(cosmos: Any, props: dict[str, str]) -> None:
    """A store on ``url`` through a fresh proxy, then a cut: raises FaultNotEffective when the SDK's
    requests go around the proxy."""
    async with faults.FaultProxy(cosmos.port, probe_timeout=PROBE_TIMEOUT) as proxy:
        via = faults.proxied(cosmos, proxy)
        metadata = {**props, "url": via.url, "connectionTimeout": "1s"}
        async with CosmosDBStateStore(metadata, name="proxied") as store:
            await store.set("proxied", "before the cut")
            proxy.probe = lambda: store.get("proxied")
            try:
                await proxy.cut()
            finally:
                await proxy.restore(within=None)


async def test_with_endpoint_discovery_the_sdk_leaves_the_proxy(cosmos: Any, props: dict[str, str]) -> None:
    """The default follows the advertised endpoint: the cut's probe reports the bypass."""
    with pytest.raises(faults.FaultNotEffective, match="succeeded through the cut"):
        await _cut_through(cosmos, props)

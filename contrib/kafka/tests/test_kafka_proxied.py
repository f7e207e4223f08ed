"""The kit's fault proxy in a Kafka client's path: only at the address the broker advertises.

A Kafka client bootstraps from ``brokers``, then reconnects to the broker's advertised listener. A
proxy in front of the plain listener is bypassed after the bootstrap, and the kit's cut probe says
so; the launcher's ``kafka`` has a ``PROXIED`` listener that advertises the port reserved for the
proxy (params ``faultProxyPort`` / ``faultProxyUpstreamPort``), and a proxy there carries every
connection: the ``pubsub.kafka`` case's network-fault tests cut it (knob ``advertised_address``).
"""

from __future__ import annotations

from typing import Any

import pytest
from kafka_servers import fresh

from blockyard_kafka.pubsub import KafkaPubSub

faults = pytest.importorskip("blockyard_conformance.faults", reason="blockyard-conformance is not installed")
launcher_module = pytest.importorskip(
    "blockyard_conformance.backends.launcher", reason="the backend launcher (blockyard-conformance) is not installed"
)

PROBE_TIMEOUT = 3.0


@pytest.fixture(scope="module")
def endpoint() -> Any:
    """The launcher's ``kafka`` endpoint; not run where it advertises no proxy address (tansu)."""
    from blockyard_conformance.backends.recipe import BackendUnavailable

    try:
        ep = launcher_module.get_launcher().up("kafka")
    except BackendUnavailable as exc:
        pytest.skip(f"kafka is not available: {exc.reason}")
    if faults.proxy_ports(ep) is None:
        pytest.skip(f"this kafka ({ep.flavour}) advertises no address for a proxy")
    return ep


async def _cut_through(proxy: Any, endpoint: Any) -> None:
    """Publish through ``proxy`` (the component's brokers name it), then cut it: raises
    FaultNotEffective when the client's traffic goes around the proxy."""
    via = faults.proxied(endpoint, proxy)
    metadata = {"brokers": via.params["brokers"], "authType": "none", "dialTimeout": "2s", "writeTimeout": "2s"}
    async with KafkaPubSub(metadata, name="proxied") as pubsub:
        topic = fresh("proxied")
        await pubsub.publish(topic, b"before the cut")
        proxy.probe = lambda: pubsub.publish(topic, b"during the cut")
        try:
            await proxy.cut()
        finally:
            await proxy.restore(within=None)


@pytest.mark.backend("kafka")
async def test_a_proxy_at_a_free_port_is_bypassed_after_the_bootstrap(endpoint: Any) -> None:
    """The plain listener advertises itself: the client leaves the proxy, and the cut's probe says so."""
    async with faults.FaultProxy(endpoint.port, probe_timeout=PROBE_TIMEOUT) as proxy:
        with pytest.raises(faults.FaultNotEffective, match="succeeded through the cut"):
            await _cut_through(proxy, endpoint)


def test_the_proxy_ports_survive_a_restart_of_the_broker_process() -> None:
    """The ports the broker advertises for the proxy are picked once per working folder."""
    from pathlib import Path
    from tempfile import TemporaryDirectory

    from blockyard_conformance.backends.native.kafka import KafkaRecipe

    recipe = KafkaRecipe()
    with TemporaryDirectory() as folder:
        work = Path(folder)
        first = recipe.server_properties(19092, 19093, work)
        second = recipe.server_properties(19092, 19094, work)
        ep = recipe.endpoint(19092, work)
    listen, upstream = faults.proxy_ports(ep)
    for props in (first, second):
        assert f"PROXIED://127.0.0.1:{upstream}" in props
        assert f"advertised.listeners=PLAINTEXT://127.0.0.1:19092,PROXIED://127.0.0.1:{listen}\n" in props

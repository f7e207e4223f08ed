"""The kit's fault proxy forwards byte-exact, and each fault takes effect (or says it did not).

The backend is a real echo server on 127.0.0.1; the planted defects are proxies whose fault does
nothing, which the verification must catch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from blockyard_conformance.backends.recipe import Endpoint, free_port
from blockyard_conformance.faults import FaultNotEffective, FaultProxy, proxied, proxy_ports


@pytest_asyncio.fixture
async def echo_port() -> AsyncIterator[int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with server:
        yield int(server.sockets[0].getsockname()[1])


class EchoClient:
    """One long-lived connection through the proxy; ``ping`` sends a line and reads it back."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def ping(self) -> None:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(b"ping\n")
        await self.writer.drain()
        assert await self.reader.readline() == b"ping\n"

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()


async def _proxy_with_probe(echo_port: int) -> tuple[FaultProxy, EchoClient]:
    proxy = FaultProxy(echo_port, probe_timeout=0.3)
    await proxy.start()
    probe = EchoClient(proxy.port)
    proxy.probe = probe.ping
    return proxy, probe


async def test_forwards_byte_exact(echo_port: int) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
    async with FaultProxy(echo_port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(payload)
        await writer.drain()
        assert await reader.readexactly(len(payload)) == payload
        writer.close()
        assert proxy.bytes_forwarded == 2 * len(payload)


async def test_cut_holds_existing_and_new_connections_and_restore_resumes_them(echo_port: int) -> None:
    proxy, probe = await _proxy_with_probe(echo_port)
    try:
        await probe.ping()
        await proxy.cut()  # verified: the probe connection is silent and the ping times out
        assert proxy.is_cut
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(probe.ping(), 0.3)
        fresh = EchoClient(proxy.port)
        connect = asyncio.create_task(fresh.ping())  # accepted (no refusal, no reset), never answered
        done, _ = await asyncio.wait({connect}, timeout=0.3)
        assert not done
        took = await proxy.restore()
        assert took < 10
        await asyncio.wait_for(connect, 5)  # the held connection goes on once restored
        fresh.close()
    finally:
        probe.close()
        await proxy.close()


async def test_latency_is_added_and_verified(echo_port: int) -> None:
    proxy, probe = await _proxy_with_probe(echo_port)
    try:
        await proxy.delay(0.2)
        started = time.monotonic()
        await probe.ping()
        assert time.monotonic() - started >= 0.2
        await proxy.delay(0)
    finally:
        probe.close()
        await proxy.close()


async def test_stalls_slow_a_share_of_chunks(echo_port: int) -> None:
    proxy, probe = await _proxy_with_probe(echo_port)
    try:
        proxy.stalls(1.0, 0.1)
        started = time.monotonic()
        await probe.ping()
        assert time.monotonic() - started >= 0.2  # both directions stalled
        proxy.stalls(0.0)
        with pytest.raises(ValueError, match="share"):
            proxy.stalls(1.5)
    finally:
        probe.close()
        await proxy.close()


async def test_reset_drops_open_connections(echo_port: int) -> None:
    proxy, probe = await _proxy_with_probe(echo_port)
    try:
        await probe.ping()
        assert await proxy.reset() == 1
        assert probe.reader is not None
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(probe.reader.readexactly(1), 2)
    finally:
        probe.close()
        await proxy.close()


async def test_a_cut_that_does_not_take_effect_is_reported(echo_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Planted defect: the cut leaves the path open; the verification must say so."""
    proxy, probe = await _proxy_with_probe(echo_port)
    try:
        monkeypatch.setattr(proxy._flowing, "clear", lambda: None)
        with pytest.raises(FaultNotEffective, match="cut not in effect"):
            await proxy.cut()
    finally:
        probe.close()
        await proxy.close()


async def test_a_latency_that_does_not_take_effect_is_reported(echo_port: int) -> None:
    """Planted defect: a probe that bypasses the proxy sees no latency; the verification says so."""
    proxy, _ = await _proxy_with_probe(echo_port)
    direct = EchoClient(echo_port)
    proxy.probe = direct.ping
    try:
        with pytest.raises(FaultNotEffective, match="latency"):
            await proxy.delay(0.2)
    finally:
        direct.close()
        await proxy.close()


async def test_a_restore_that_does_not_heal_is_reported(echo_port: int) -> None:
    proxy, probe = await _proxy_with_probe(echo_port)
    try:
        await proxy.cut()
        proxy._flowing.set = lambda: None  # type: ignore[method-assign]  # planted: restore heals nothing
        with pytest.raises(FaultNotEffective, match="did not recover"):
            await proxy.restore(within=0.5)
    finally:
        del proxy._flowing.set
        probe.close()
        await proxy.close()


def test_proxied_endpoint_points_every_address_at_the_proxy() -> None:
    proxy = FaultProxy(6379)
    proxy.port = 40001
    endpoint = Endpoint(
        "redis", "redis 7", "127.0.0.1", 6379, "redis://127.0.0.1:6379/0", "native", {"port": "6379", "x": "y"}
    )
    seen = proxied(endpoint, proxy)
    assert (seen.host, seen.port, seen.url) == ("127.0.0.1", 40001, "redis://127.0.0.1:40001/0")
    assert seen.params == {"port": "40001", "x": "y"}


def test_only_loopback_upstreams() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy(80, upstream_host="10.0.0.1")


def _endpoint(**params: str) -> Endpoint:
    return Endpoint("kafka", "kafka 3", "127.0.0.1", 9092, "kafka://127.0.0.1:9092", "native", params)


def test_proxy_ports_come_from_the_backends_params() -> None:
    assert proxy_ports(_endpoint(brokers="127.0.0.1:9092")) is None
    assert proxy_ports(_endpoint(faultProxyPort="40001", faultProxyUpstreamPort="40002")) == (40001, 40002)
    for half in ({"faultProxyPort": "40001"}, {"faultProxyPort": "x", "faultProxyUpstreamPort": "40002"}):
        with pytest.raises(ValueError, match=r"'kafka'.*faultProxyPort.*faultProxyUpstreamPort"):
            proxy_ports(_endpoint(**half))


async def test_the_proxy_listens_at_the_port_it_is_given(echo_port: int) -> None:
    port = free_port()
    async with FaultProxy(echo_port, port=port) as proxy:
        assert proxy.port == port
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
        writer.close()

"""Network faults between a component and its backend: a TCP proxy on 127.0.0.1 the kit owns.

The component talks to the proxy; the proxy forwards every connection to the backend. The kit then
breaks the path, and every fault is **verified** to have taken effect before the call returns:

- :meth:`FaultProxy.cut` black-holes the path: existing and new connections are accepted and kept
  open, nothing is forwarded either way, nothing is answered and nothing is reset (as when a cable is
  pulled). Verified by a probe connection that must stay silent and open, its bytes never reaching
  the backend (and, when given, by the ``probe`` callable timing out).
- :meth:`FaultProxy.restore` heals it: held bytes flow again, connections continue (verified by the
  probe, when given, succeeding).
- :meth:`FaultProxy.delay` adds latency to every forwarded chunk (verified: the probe takes longer).
- :meth:`FaultProxy.stalls` makes a share of the chunks stall, as lost packets do while TCP
  retransmits them (seeded, reproducible).
- :meth:`FaultProxy.reset` closes every open connection with a TCP reset.

Only loopback is ever used: the proxy listens on 127.0.0.1 and refuses any other upstream.

Example::

    async with FaultProxy(backend_port, probe=store.ping) as proxy:
        endpoint = proxied(endpoint, proxy)   # substitute the case's Component YAML with this one
        await proxy.cut()                     # returns once the cut is verified
        ...                                   # every operation must fail within its timeout
        await proxy.restore()
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from blockyard_conformance.backends.recipe import Endpoint

__all__ = [
    "LOOPBACK",
    "PROXY_PORT_PARAM",
    "PROXY_UPSTREAM_PARAM",
    "FaultNotEffective",
    "FaultProxy",
    "proxied",
    "proxy_ports",
]

LOOPBACK = "127.0.0.1"
_CHUNK = 64 * 1024
_PROBE_BYTES = b"blockyard-fault-probe\r\n"
_SILENCE = 2.0
"""How long the cut's probe connection must stay silent: on loopback a forwarding path answers or
closes it within milliseconds (and the proxy's own byte count must not move meanwhile)."""

PROXY_PORT_PARAM = "faultProxyPort"
"""Endpoint param of a backend that advertises an address for clients behind a proxy: that port."""
PROXY_UPSTREAM_PARAM = "faultProxyUpstreamPort"
"""Endpoint param naming the backend's listener behind that proxy (where the proxy forwards)."""

Probe = Callable[[], Awaitable[Any]]


class FaultNotEffective(AssertionError):
    """A fault was asked for but the probe shows it did not take effect (or a restore did not heal)."""


class _Link:
    """One proxied connection: client <-> proxy <-> backend."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.handler = asyncio.current_task()

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is None:
                continue
            sock = writer.get_extra_info("socket")
            if sock is not None:  # SO_LINGER 0: close() sends a reset instead of a FIN
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()


class FaultProxy:
    """A TCP proxy from ``127.0.0.1:<port>`` to ``127.0.0.1:<upstream_port>`` with faults to order.

    ``probe`` (optional) is an operation through the proxy that succeeds when the path works, e.g.
    a client's ``ping``; faults are then also verified with it. ``probe_timeout`` bounds each probe.
    ``seed`` makes :meth:`stalls` reproducible. ``port`` (0: a free one) is where the proxy listens:
    a port the backend advertises to its clients, for a backend whose clients follow that address
    (see :func:`proxy_ports`). Use as an async context manager, or call :meth:`start` and :meth:`close`.
    """

    def __init__(
        self,
        upstream_port: int,
        *,
        upstream_host: str = LOOPBACK,
        probe: Probe | None = None,
        probe_timeout: float = 1.0,
        seed: int = 0,
        port: int = 0,
    ) -> None:
        if upstream_host not in (LOOPBACK, "localhost"):
            raise ValueError(f"FaultProxy forwards to loopback only, not {upstream_host!r}")
        self.upstream = (LOOPBACK, upstream_port)
        self.probe = probe
        self.probe_timeout = probe_timeout
        self.bytes_forwarded = 0
        """Bytes forwarded either way since the start (the cut's probe checks it does not move)."""
        self.connections = 0
        """Connections accepted since the start."""
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._latency = 0.0
        self._stall_share = 0.0
        self._stall_seconds = 0.0
        self._random = random.Random(seed)
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._listen_port = port
        self.port = port

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> Self:
        """Listen on 127.0.0.1 at the port given, or a free one (:attr:`port`).

        :raises OSError: the port given is taken.
        """
        self._server = await asyncio.start_server(self._accept, LOOPBACK, self._listen_port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        """Stop listening and drop every connection (with a reset). Idempotent."""
        if self._server is not None:
            self._server.close()
            self._server = None
        self._flowing.set()
        handlers = []
        for link in list(self._links):
            link.abort()
            if link.handler is not None:
                link.handler.cancel()
                handlers.append(link.handler)
        if handlers:
            await asyncio.gather(*handlers, return_exceptions=True)
        self._links.clear()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, where the component must connect."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def is_cut(self) -> bool:
        """True between :meth:`cut` and :meth:`restore`."""
        return not self._flowing.is_set()

    @property
    def open_connections(self) -> int:
        """Connections currently proxied."""
        return len(self._links)

    # -- faults ----------------------------------------------------------------------------------

    async def cut(self) -> None:
        """Black-hole every existing and new connection; returns once verified.

        :raises FaultNotEffective: the probe connection got an answer, was closed, or its bytes
            reached the backend; or ``probe`` completed while cut.
        """
        self._flowing.clear()
        await self._verify_cut()

    async def restore(self, *, within: float | None = 10.0) -> float:
        """End a cut: held bytes flow again. Returns the seconds until ``probe`` succeeded (0 without
        a probe, or with ``within=None``: no check).

        :raises FaultNotEffective: ``probe`` still fails after ``within`` seconds.
        """
        self._flowing.set()
        return 0.0 if within is None else await self._until_probe_succeeds(within)

    async def delay(self, seconds: float, *, verify: bool = True) -> None:
        """Add ``seconds`` of latency to every forwarded chunk, each way (0 removes it). With a probe
        and ``verify``, returns once a probe took at least ``seconds``.

        :raises FaultNotEffective: the probe took less than ``seconds``, or failed (nothing verified).
        """
        if seconds < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {seconds}")
        self._latency = seconds
        if seconds and verify and self.probe is not None:
            started = time.monotonic()
            try:
                await asyncio.wait_for(self.probe(), seconds * 4 + self.probe_timeout)
            except Exception as exc:
                raise FaultNotEffective(f"latency {seconds:g}s not verified: the probe failed ({exc!r})") from exc
            took = time.monotonic() - started
            if took < seconds:
                raise FaultNotEffective(f"latency {seconds:g}s not in effect: the probe took {took:.3f}s")

    def stalls(self, share: float, seconds: float = 0.5) -> None:
        """Stall ``share`` (0..1) of the forwarded chunks by ``seconds`` each, like retransmitted lost
        packets; ``share=0`` ends it. Reproducible for one ``seed``."""
        if not 0.0 <= share <= 1.0 or seconds < 0:
            raise ValueError(f"stalls need 0 <= share <= 1 and seconds >= 0, got {share}, {seconds}")
        self._stall_share = share
        self._stall_seconds = seconds

    async def reset(self) -> int:
        """Reset every open connection (the backend "goes away"); new ones are proxied as usual.
        Returns how many were reset."""
        links = list(self._links)
        for link in links:
            link.abort()
        return len(links)

    # -- verification ----------------------------------------------------------------------------

    async def _verify_cut(self) -> None:
        before = self.bytes_forwarded
        reader, writer = await asyncio.wait_for(asyncio.open_connection(LOOPBACK, self.port), self.probe_timeout)
        try:
            writer.write(_PROBE_BYTES)
            await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(1), min(self.probe_timeout, _SILENCE))
            except TimeoutError:
                data = None  # silent, as a black hole is
            if data is not None:
                what = "was closed" if data == b"" else "got an answer"
                raise FaultNotEffective(f"cut not in effect: a probe connection through the proxy {what}")
            if self.bytes_forwarded != before:
                raise FaultNotEffective("cut not in effect: bytes still reach the backend")
        finally:
            writer.transport.abort()
        if self.probe is not None:
            try:
                await asyncio.wait_for(self.probe(), self.probe_timeout)
            except Exception:  # any failure, or the timeout, shows the cut works
                return
            raise FaultNotEffective("cut not in effect: the probe operation succeeded through the cut")

    async def _until_probe_succeeds(self, within: float) -> float:
        if self.probe is None:
            return 0.0
        started = time.monotonic()
        last: BaseException | None = None
        while time.monotonic() - started < within:
            try:
                await asyncio.wait_for(self.probe(), self.probe_timeout)
                return time.monotonic() - started
            except Exception as exc:  # retried until the deadline
                last = exc
                await asyncio.sleep(0.1)
        raise FaultNotEffective(f"the path did not recover within {within:g}s (last probe error: {last!r})")

    # -- forwarding ------------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer)
        self._links.add(link)
        self.connections += 1
        try:
            await self._flowing.wait()  # a new connection during a cut is accepted, then held
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                link.abort()
                return
            link.upstream = up_writer
            link.tasks = [
                asyncio.create_task(self._pipe(reader, up_writer)),
                asyncio.create_task(self._pipe(up_reader, writer)),
            ]
            await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass  # the proxy is closing: end quietly (the server callback reads the handler's result)
        finally:
            link.abort()
            for task in link.tasks:
                task.cancel()
            await asyncio.gather(*link.tasks, return_exceptions=True)
            self._links.discard(link)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await self._flowing.wait()
                data = await reader.read(_CHUNK)
                if not data:
                    return
                wait = self._latency
                if self._stall_share and self._random.random() < self._stall_share:
                    wait += self._stall_seconds
                if wait:
                    await asyncio.sleep(wait)
                await self._flowing.wait()  # bytes read just before a cut are held, not forwarded
                writer.write(data)
                await writer.drain()
                self.bytes_forwarded += len(data)
        except (ConnectionError, OSError):
            return


def proxied(endpoint: Endpoint, proxy: FaultProxy) -> Endpoint:
    """``endpoint`` as seen through ``proxy``: host, port, URL and every param naming the backend's
    port now point at the proxy. A case's Component YAML substituted with it routes the component
    through the proxy, whatever metadata field holds the address."""
    old, new = str(endpoint.port), str(proxy.port)

    def swap(text: str) -> str:
        if text == old:
            return new
        return text.replace(f"{endpoint.host}:{old}", proxy.address).replace(f"localhost:{old}", proxy.address)

    return dataclasses.replace(
        endpoint,
        host=LOOPBACK,
        port=proxy.port,
        url=swap(endpoint.url),
        params={k: swap(v) for k, v in endpoint.params.items()},
    )


def proxy_ports(endpoint: Endpoint) -> tuple[int, int] | None:
    """``(listen, upstream)`` when ``endpoint`` names a proxy address its backend advertises
    (params ``faultProxyPort`` and ``faultProxyUpstreamPort``), else ``None``: the proxy then takes a
    free port and forwards to ``endpoint.port``.

    A backend whose clients reconnect to the address it advertises (Kafka's advertised listeners)
    has a listener for clients behind a proxy: it advertises ``faultProxyPort``, where the kit's
    proxy listens, and serves ``faultProxyUpstreamPort``, where the proxy forwards.

    :raises ValueError: only one of the two params is given, or one is not a port number.
    """
    listen, upstream = endpoint.params.get(PROXY_PORT_PARAM), endpoint.params.get(PROXY_UPSTREAM_PARAM)
    if listen is None and upstream is None:
        return None
    if listen is None or upstream is None or not listen.isdigit() or not upstream.isdigit():
        raise ValueError(
            f"backend {endpoint.backend!r}: params {PROXY_PORT_PARAM!r} and {PROXY_UPSTREAM_PARAM!r} go together, "
            f"each a port number (got {listen!r}, {upstream!r})"
        )
    return int(listen), int(upstream)

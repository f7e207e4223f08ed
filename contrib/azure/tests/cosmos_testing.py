"""Test helpers: the launcher's Cosmos DB endpoint and a throttling HTTP proxy in front of it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientSession, TCPConnector, web

_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


def launcher_endpoint() -> Any:
    """The ``cosmosdb`` backend from the launcher (skips when it cannot be had)."""
    from blockyard_conformance.backends.launcher import get_launcher
    from blockyard_conformance.backends.recipe import BackendUnavailable

    try:
        return get_launcher().up("cosmosdb")
    except BackendUnavailable as exc:
        pytest.skip(f"not run: cosmosdb is not available: {exc.reason}; enable with: {exc.enable_command}")


@dataclass
class ThrottlingProxy:
    """Plain-HTTP proxy to the (HTTPS) emulator that answers the first ``throttle`` document
    requests with 429 and ``x-ms-retry-after-ms``, then forwards everything (or refuses all, 401)."""

    target: str
    throttle: int = 0
    retry_after_ms: int = 20
    refuse_auth: bool = False
    """Answer every request 401, as Cosmos DB does for a wrong key (the emulator checks no key)."""
    throttled: int = 0
    forwarded: list[str] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _session: ClientSession | None = None

    async def start(self) -> None:
        self._session = ClientSession(connector=TCPConnector(ssl=False))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_auth:
            assert request.headers.get("authorization", "").startswith("type%3Dmaster"), "no master-key signature"
            return web.json_response(
                {"code": "Unauthorized", "message": "The input authorization token can't serve the request."},
                status=401,
            )
        if "/docs" in request.path and self.throttled < self.throttle:
            self.throttled += 1
            return web.json_response(
                {"code": "TooManyRequests", "message": "Request rate is large"},
                status=429,
                headers={"x-ms-retry-after-ms": str(self.retry_after_ms), "x-ms-substatus": "3200"},
            )
        assert self._session is not None
        headers: Mapping[str, str] = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        body = await request.read()
        async with self._session.request(
            request.method, self.target.rstrip("/") + request.path_qs, headers=headers, data=body
        ) as resp:
            payload = await resp.read()
            self.forwarded.append(f"{request.method} {request.path}")
            out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP_HEADERS}
            return web.Response(status=resp.status, body=payload, headers=out)


async def started_proxy(target: str, **kwargs: Any) -> ThrottlingProxy:
    proxy = ThrottlingProxy(target, **kwargs)
    await proxy.start()
    await asyncio.sleep(0)
    return proxy

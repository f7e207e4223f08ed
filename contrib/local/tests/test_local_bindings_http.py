"""bindings.http against a real HTTP server on 127.0.0.1 (stdlib http.server in a thread)."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from blockyard.errors import (
    BackendError,
    BackendUnavailableError,
    ComponentConfigError,
    InvalidRequestError,
    NotSupportedError,
)
from blockyard_local.bindings_http import HttpBinding

TOKEN = "tok-9f8e7d-secret"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    received: list[Received]

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.received.append(  # type: ignore[attr-defined]
            Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        if "/status/" in self.path:
            code = int(self.path.rsplit("/", 1)[1])
            payload = b"status body"
        elif self.path.endswith("/big"):
            code, payload = 200, b"x" * 5000
        else:
            code, payload = 200, b"echo:" + body
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("X-Multi", "a")
        self.send_header("X-Multi", "b")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _url(srv: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/api/"


@pytest.fixture
async def http(server: ThreadingHTTPServer) -> AsyncIterator[HttpBinding]:
    meta = {"url": _url(server), "securityToken": TOKEN, "securityTokenHeader": "X-Token", "responseTimeout": "5s"}
    async with HttpBinding(meta, name="http") as b:
        yield b


def _last(srv: ThreadingHTTPServer) -> Received:
    received: list[Received] = srv.received  # type: ignore[attr-defined]
    return received[-1]


async def test_post_sends_path_headers_token_and_body(http: HttpBinding, server: ThreadingHTTPServer) -> None:
    resp = await http.invoke("post", {"a": 1}, metadata={"path": "/orders/1", "X-Request-Id": "r1"})
    got = _last(server)
    assert (got.method, got.path, got.body) == ("POST", "/api/orders/1", b'{"a":1}')
    assert got.headers["x-request-id"] == "r1"
    assert got.headers["x-token"] == TOKEN
    assert got.headers["content-type"] == "application/json; charset=utf-8"
    assert "path" not in got.headers
    assert resp.data == b'echo:{"a":1}'
    assert resp.metadata["statusCode"] == "200"
    assert resp.metadata["X-Multi"] == "a, b"
    assert resp.metadata["Content-Type"] == "text/plain"
    assert resp.content_type == "text/plain"


@pytest.mark.parametrize(
    ("operation", "method"),
    [
        ("create", "POST"),
        ("get", "GET"),
        ("put", "PUT"),
        ("patch", "PATCH"),
        ("delete", "DELETE"),
        ("options", "OPTIONS"),
    ],
)
async def test_operations_map_to_methods(
    http: HttpBinding, server: ThreadingHTTPServer, operation: str, method: str
) -> None:
    await http.invoke(operation, b"raw", metadata={"Content-Type": "application/octet-stream"})
    got = _last(server)
    assert (got.method, got.path, got.body) == (method, "/api/", b"raw")
    assert got.headers["content-type"] == "application/octet-stream"


async def test_head_has_no_data(http: HttpBinding, server: ThreadingHTTPServer) -> None:
    resp = await http.invoke("head", metadata={"path": "x"})
    assert resp.data is None
    assert resp.metadata["statusCode"] == "200"
    assert _last(server).method == "HEAD"


async def test_non_2xx_raises_unless_disabled(http: HttpBinding) -> None:
    with pytest.raises(BackendError, match="404") as info:
        await http.invoke("get", metadata={"path": "status/404"})
    assert info.value.component == "http"
    resp = await http.invoke("get", metadata={"path": "status/404", "errorIfNot2XX": "false"})
    assert resp.metadata["statusCode"] == "404"
    assert resp.data == b"status body"
    with pytest.raises(InvalidRequestError, match="errorIfNot2XX"):
        await http.invoke("get", metadata={"errorIfNot2XX": "maybe"})


async def test_component_level_error_if_not_2xx(server: ThreadingHTTPServer) -> None:
    async with HttpBinding({"url": _url(server), "errorIfNot2XX": "false"}) as http:
        assert (await http.invoke("get", metadata={"path": "status/500"})).metadata["statusCode"] == "500"


async def test_max_response_body_size(server: ThreadingHTTPServer) -> None:
    async with HttpBinding({"url": _url(server), "maxResponseBodySize": "1Ki"}) as http:
        with pytest.raises(BackendError, match="maxResponseBodySize"):
            await http.invoke("get", metadata={"path": "/big"})
        assert (await http.invoke("get", b"small")).data == b"echo:small"


async def test_unreachable_server() -> None:
    async with HttpBinding({"url": "http://127.0.0.1:9/"}) as http:
        with pytest.raises(BackendUnavailableError):
            await http.invoke("get")


async def test_bad_request_metadata(http: HttpBinding) -> None:
    with pytest.raises(InvalidRequestError, match="header name"):
        await http.invoke("get", metadata={"bad header": "x"})
    with pytest.raises(InvalidRequestError, match="line break"):
        await http.invoke("get", metadata={"X-Evil": "a\r\nInjected: 1"})
    with pytest.raises(NotSupportedError):
        await http.invoke("trace")


@pytest.mark.parametrize(
    ("meta", "field"),
    [
        ({}, "url"),
        ({"url": "ftp://x"}, "url"),
        ({"url": "http://x", "securityToken": TOKEN}, "securityTokenHeader"),
        ({"url": "http://x", "maxResponseBodySize": "lots"}, "maxResponseBodySize"),
        ({"url": "http://x", "MTLSRootCA": "pem"}, "MTLSRootCA"),
    ],
)
def test_bad_component_metadata(meta: dict[str, str], field: str) -> None:
    with pytest.raises(ComponentConfigError, match=field) as info:
        HttpBinding(meta)
    assert TOKEN not in str(info.value)


async def test_token_never_in_reprs_logs_or_errors(
    server: ThreadingHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    meta = {"url": _url(server), "securityToken": TOKEN, "securityTokenHeader": "Authorization"}
    with caplog.at_level(logging.DEBUG):
        async with HttpBinding(meta) as http:
            with pytest.raises(BackendError) as info:
                await http.invoke("get", metadata={"path": "status/401"})
            assert TOKEN not in str(info.value)
            assert TOKEN not in repr(http)
            assert TOKEN not in repr(http.meta)
            assert _last(server).headers["authorization"] == TOKEN
    assert TOKEN not in caplog.text

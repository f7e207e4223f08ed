"""A stdlib-only HTTP echo server, the backend of HTTP output-binding conformance cases.

It keeps the last body written to each path, as Dapr's bindings test server does:
``POST``/``PUT``/``PATCH`` store the body (and answer it back, 201), ``GET`` returns what is stored
(404 when nothing is), ``DELETE`` forgets it (204); ``HEAD``/``OPTIONS`` answer 200 with no body.
Every response carries the request's method and headers as ``X-Echo-*`` headers. ``GET /__health``
answers ``blockyard-http-echo``.

Usage: ``python http_echo_server.py PORT [HOST]`` (HOST defaults to 127.0.0.1). It imports nothing
outside the standard library so that ``compose/http-echo.yml`` can run it in a plain Python image.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

HEALTH_PATH = "/__health"
HEALTH_BODY = b"blockyard-http-echo"


class _EchoHandler(BaseHTTPRequestHandler):
    store: ClassVar[dict[str, tuple[bytes, str]]] = {}
    lock: ClassVar[threading.Lock] = threading.Lock()
    protocol_version = "HTTP/1.1"

    def _reply(self, status: int, body: bytes = b"", content_type: str = "application/octet-stream") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Echo-Method", self.command)
        for name, value in self.headers.items():
            if name.lower() not in ("content-length", "host", "connection"):
                self.send_header(f"X-Echo-{name}", value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _store(self) -> None:
        body = self._body()
        content_type = self.headers.get("Content-Type") or "application/octet-stream"
        with self.lock:
            self.store[self.path] = (body, content_type)
        self._reply(201, body, content_type)

    do_POST = do_PUT = do_PATCH = _store

    def do_GET(self) -> None:
        if self.path == HEALTH_PATH:
            self._reply(200, HEALTH_BODY, "text/plain")
            return
        with self.lock:
            found = self.store.get(self.path)
        if found is None:
            self._reply(404, b"not found", "text/plain")
        else:
            self._reply(200, *found)

    def do_DELETE(self) -> None:
        with self.lock:
            self.store.pop(self.path, None)
        self._reply(204)

    def do_HEAD(self) -> None:
        self._reply(200)

    do_OPTIONS = do_HEAD

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}\n")


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Serve on ``host:port`` until killed."""
    ThreadingHTTPServer((host, port), _EchoHandler).serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), *sys.argv[2:3])

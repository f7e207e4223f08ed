"""A local HTTP server standing in for api.twilio.com in the tests: it records every request exactly
(method, path, headers, raw body) and answers from a script of responses (Twilio-shaped by default).

The real ``twilio`` client reaches it through the binding's ``apiBaseUrl`` (the SDK's per-domain
``base_url`` seam), so the tests see the very bytes the SDK sends.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


@dataclass
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)


@dataclass
class Reply:
    """A scripted answer; ``hold`` makes the server wait for the event before answering."""

    status: int
    payload: Any
    hold: threading.Event | None = None


def twilio_error(status: int, code: int, message: str) -> Reply:
    """A Twilio error body as the REST API sends it."""
    more = f"https://www.twilio.com/docs/errors/{code}"
    return Reply(status, {"code": code, "message": message, "more_info": more, "status": status})


@dataclass
class FakeTwilioApi:
    """The server's state: recorded requests and the script of replies still to give."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self, form: dict[str, list[str]]) -> Reply:
        with self.lock:
            if self.script:
                return self.script.pop(0)
        sid = "SM" + uuid.uuid4().hex
        return Reply(
            201, {"sid": sid, "status": "queued", "to": form.get("To", [""])[0], "body": form.get("Body", [""])[0]}
        )


def _handler(api: FakeTwilioApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            recorded = Recorded(self.command, self.path, dict(self.headers.items()), body)
            with api.lock:
                api.requests.append(recorded)
            api.received.set()
            reply = api.next_reply(recorded.form)
            if reply.hold is not None:
                reply.hold.wait(30)
            data = json.dumps(reply.payload).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def serve() -> Iterator[FakeTwilioApi]:
    """Run a fresh server on a free loopback port; shut it down afterwards."""
    api = FakeTwilioApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)

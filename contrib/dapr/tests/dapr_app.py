"""A small Dapr application over HTTP (what daprd calls back): subscriptions and their deliveries."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["SubscriberApp"]


@dataclass
class SubscriberApp:
    """Subscribes ``routes`` (``(pubsub, topic)`` -> path) and records every CloudEvent delivered.

    A delivery whose ``data["fail_first"]`` is true is answered ``RETRY`` the first time it comes.
    """

    routes: dict[tuple[str, str], str]
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    failed_once: set[str] = field(default_factory=set)
    changed: threading.Condition = field(default_factory=threading.Condition)
    server: ThreadingHTTPServer | None = None

    def start(self) -> int:
        """Listen on a free loopback port; returns it."""
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/dapr/subscribe":
                    self._reply(
                        200,
                        [{"pubsubname": p, "topic": t, "route": route} for (p, t), route in app.routes.items()],
                    )
                else:
                    self._reply(404, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                event = json.loads(self.rfile.read(length) or b"{}")
                self._reply(200, {"status": app.receive(event)})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return int(self.server.server_address[1])

    def receive(self, event: dict[str, Any]) -> str:
        """Record a delivery; the answer daprd gets."""
        data = event.get("data") or {}
        with self.changed:
            self.deliveries.append(event)
            self.changed.notify_all()
            if isinstance(data, dict) and data.get("fail_first") and event.get("id") not in self.failed_once:
                self.failed_once.add(str(event.get("id")))
                return "RETRY"
        return "SUCCESS"

    def wait_for(self, predicate: Any, timeout: float) -> list[dict[str, Any]]:
        """Wait until ``predicate(deliveries)`` holds; returns the deliveries (raises on timeout)."""
        with self.changed:
            if not self.changed.wait_for(lambda: predicate(self.deliveries), timeout):
                raise AssertionError(f"deliveries never matched; got {self.deliveries}")
            return list(self.deliveries)

    def stop(self) -> None:
        """Stop listening."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

"""The Python subscriber: topics A and C of "pubsub", declared on GET /dapr/subscribe.

Standard library only. Prints each CloudEvent's topic and data as one JSON line.
"""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

TOPICS = ["A", "C"]


class Subscriber(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return

    def _json(self, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path != "/dapr/subscribe":
            self.send_error(404)
            return
        self._json([{"pubsubname": "pubsub", "topic": t, "route": f"/on/{t}"} for t in TOPICS])

    def do_POST(self) -> None:
        if not self.path.startswith("/on/"):
            self.send_error(404)
            return
        event = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        print(json.dumps({"topic": event.get("topic"), "data": event.get("data")}), flush=True)
        self._json({"status": "SUCCESS"})


server = HTTPServer(("127.0.0.1", int(os.environ["APP_PORT"])), Subscriber)
print(f"python subscriber on {os.environ['APP_PORT']}", flush=True)
server.serve_forever()

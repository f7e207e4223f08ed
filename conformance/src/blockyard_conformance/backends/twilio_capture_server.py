"""A stdlib-only, Twilio-shaped capture server: the backend of ``bindings.twilio.sms`` conformance cases.

It answers the one endpoint the binding uses the way Twilio's REST API does, and keeps what it got:

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form ``To``, ``From``, ``Body``) with
  Basic auth whose user is the path's account SID answers ``201`` and a Message resource (``sid``
  ``SM...``, ``status: queued``, ...). Twilio's error bodies ``{code, message, more_info, status}``
  answer the rest: no or wrong credentials ``401``/20003, no ``To`` 21604, no ``From`` 21603, no
  ``Body`` 21602, and Twilio's magic test number ``+15005550001`` as ``To`` ``400``/21211.
- ``GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`` returns a message created before.
- ``GET /__captured`` lists every request received (method, path, form, Basic-auth user, User-Agent;
  never the password); ``GET /__health`` answers ``blockyard-twilio-capture``.

Usage: ``python twilio_capture_server.py PORT [HOST]`` (HOST defaults to 127.0.0.1). It imports nothing
outside the standard library so that ``docker/twilio.yml`` can run it in a plain Python image.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs

HEALTH_PATH = "/__health"
HEALTH_BODY = b"blockyard-twilio-capture"
CAPTURED_PATH = "/__captured"
INVALID_TO = "+15005550001"
"""Twilio's magic test number for "The 'To' number is not a valid phone number" (21211)."""

_CREATE = re.compile(r"^/2010-04-01/Accounts/(AC[0-9A-Za-z]+)/Messages\.json$")
_FETCH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9A-Za-z]+)/Messages/(SM[0-9a-f]{32})\.json$")


class _TwilioHandler(BaseHTTPRequestHandler):
    captured: ClassVar[list[dict[str, Any]]] = []
    messages: ClassVar[dict[str, dict[str, Any]]] = {}
    lock: ClassVar[threading.Lock] = threading.Lock()
    protocol_version = "HTTP/1.1"

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, code: int, message: str) -> None:
        more = f"https://www.twilio.com/docs/errors/{code}"
        self._json(status, {"code": code, "message": message, "more_info": more, "status": status})

    def _auth_user(self) -> tuple[str | None, bool]:
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return None, False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None, False
        return user, bool(password)

    def _record(self, form: dict[str, str]) -> str | None:
        user, _ = self._auth_user()
        entry = {
            "method": self.command,
            "path": self.path,
            "form": form,
            "auth_user": user,
            "user_agent": self.headers.get("User-Agent"),
            "content_type": self.headers.get("Content-Type"),
        }
        with self.lock:
            self.captured.append(entry)
        return user

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        user = self._record(form)
        match = _CREATE.match(self.path)
        if match is None:
            self._error(404, 20404, "The requested resource was not found")
            return
        account = match.group(1)
        if user != account or not self._auth_user()[1]:
            self._error(401, 20003, "Authenticate")
            return
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            self._error(400, 21604, "A 'To' phone number is required.")
        elif not sender:
            self._error(400, 21603, "A 'From' phone number is required.")
        elif not body:
            self._error(400, 21602, "Message body is required.")
        elif to == INVALID_TO:
            self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        else:
            sid = "SM" + uuid.uuid4().hex
            now = formatdate(usegmt=True)
            message = {
                "sid": sid,
                "account_sid": account,
                "to": to,
                "from": sender,
                "body": body,
                "status": "queued",
                "direction": "outbound-api",
                "num_segments": "1",
                "num_media": "0",
                "api_version": "2010-04-01",
                "date_created": now,
                "date_updated": now,
                "date_sent": None,
                "price": None,
                "price_unit": "USD",
                "error_code": None,
                "error_message": None,
                "messaging_service_sid": None,
                "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
                "subresource_uris": {"media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"},
            }
            with self.lock:
                self.messages[sid] = message
            self._json(201, message)

    def do_GET(self) -> None:
        if self.path == HEALTH_PATH:
            body = HEALTH_BODY
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path == CAPTURED_PATH:
            with self.lock:
                self._json(200, list(self.captured))
            return
        self._record({})
        match = _FETCH.match(self.path)
        with self.lock:
            message = self.messages.get(match.group(2)) if match else None
        if message is None or (match and message["account_sid"] != match.group(1)):
            self._error(404, 20404, "The requested resource was not found")
        else:
            self._json(200, message)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}\n")


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Serve on ``host:port`` until killed."""
    ThreadingHTTPServer((host, port), _TwilioHandler).serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), *sys.argv[2:3])

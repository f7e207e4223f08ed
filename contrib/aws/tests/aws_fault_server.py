"""moto's server with one extra endpoint that makes it answer the next requests with an AWS error.

Run as ``python aws_fault_server.py PORT``. ``POST /blockyard-faults`` with JSON
``{"target": "DynamoDB_20120810.GetItem", "count": 2, "code": "ThrottlingException", "status": 400}``
makes the next ``count`` requests whose ``X-Amz-Target`` ends with ``target`` fail with that error;
with ``"code": "Unprocessed"`` a DynamoDB ``BatchWriteItem`` / ``BatchGetItem`` is instead answered
"nothing done": every item comes back in ``UnprocessedItems`` / ``UnprocessedKeys``.
``GET /blockyard-faults`` returns ``{"served": n, "remaining": m}`` (faults answered so far and
still armed). Everything else is moto, unchanged.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

_lock = threading.Lock()
_fault: dict[str, Any] = {"target": "", "remaining": 0, "served": 0, "code": "", "status": 400}


def _reply(start_response: Any, status: str, body: bytes, content_type: str) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def make_app() -> Any:
    moto_app = DomainDispatcherApplication(create_backend_app)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/blockyard-faults":
            if environ["REQUEST_METHOD"] == "POST":
                size = int(environ.get("CONTENT_LENGTH") or 0)
                spec = json.loads(environ["wsgi.input"].read(size) or b"{}")
                with _lock:
                    _fault.update(
                        target=spec["target"], remaining=int(spec["count"]), served=0,
                        code=spec.get("code", "ThrottlingException"), status=int(spec.get("status", 400)),
                    )  # fmt: skip
            with _lock:
                state = {"served": _fault["served"], "remaining": _fault["remaining"]}
            return _reply(start_response, "200 OK", json.dumps(state).encode(), "application/json")
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        with _lock:
            hit = _fault["remaining"] > 0 and target and target.endswith(_fault["target"])
            if hit:
                _fault["remaining"] -= 1
                _fault["served"] += 1
        if hit and _fault["code"] == "Unprocessed":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            request = json.loads(environ["wsgi.input"].read(size) or b"{}")
            key = "UnprocessedKeys" if target.endswith("BatchGetItem") else "UnprocessedItems"
            reply = {key: request["RequestItems"]}
            if key == "UnprocessedKeys":
                reply["Responses"] = {}
            return _reply(start_response, "200 OK", json.dumps(reply).encode(), "application/x-amz-json-1.0")
        if hit:
            body = json.dumps({"__type": _fault["code"], "message": "Rate exceeded (injected)"}).encode()
            return _reply(start_response, f"{_fault['status']} Error", body, "application/x-amz-json-1.0")
        return moto_app(environ, start_response)

    return app


if __name__ == "__main__":
    run_simple("127.0.0.1", int(sys.argv[1]), make_app(), threaded=True, request_handler=MotoRequestHandler)

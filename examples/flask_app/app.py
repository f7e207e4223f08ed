"""A Flask app on Blockyard's blocking facade: orders kept in a state store, with ETags.

Run from the repository root (any Component folder with a ``statestore`` works, Redis included)::

    BLOCKYARD_COMPONENTS=examples/flask_app/components .venv/bin/flask --app examples/flask_app/app.py run

Routes:

- ``PUT /orders/<id>`` with a JSON body stores the order and answers ``{"etag": ...}``; with
  ``If-Match: <etag>`` the write happens only if the order is unchanged since, else ``412``.
- ``GET /orders/<id>`` answers the order with its ``ETag`` header, or ``404``.
- ``DELETE /orders/<id>`` deletes it (``If-Match`` honoured the same way).

The app runs as app id ``orders``: ``components/audit.yaml`` is scoped to another app, so it is
not loaded here (``blockyard validate --app-id orders examples/flask_app/components`` shows it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request

import blockyard.sync
from blockyard.errors import ETagError, InvalidRequestError


def create_app(components: str | Path | None = None, *, app_id: str = "orders") -> Flask:
    """The app, with its yard open (closed at interpreter exit, or by ``app.extensions["blockyard"].close()``)."""
    yard = blockyard.sync.open(components or os.environ.get("BLOCKYARD_COMPONENTS", "components"), app_id=app_id)
    store = yard.state("statestore")
    app = Flask(__name__)
    app.extensions["blockyard"] = yard

    @app.errorhandler(ETagError)
    def stale(exc: ETagError) -> tuple[Response, int]:
        return jsonify(error="the order changed since you read it"), 412

    @app.errorhandler(InvalidRequestError)
    def invalid(exc: InvalidRequestError) -> tuple[Response, int]:
        return jsonify(error=str(exc)), 400

    @app.put("/orders/<order_id>")
    def put_order(order_id: str) -> Any:
        order = request.get_json(force=True, silent=True)
        if not isinstance(order, dict):
            return jsonify(error="the body must be a JSON object"), 400
        etag = store.set(order_id, order, etag=request.headers.get("If-Match"))
        return jsonify(etag=etag)

    @app.get("/orders/<order_id>")
    def get_order(order_id: str) -> Any:
        item = store.get(order_id)
        if item.value is None:
            return jsonify(error=f"no order {order_id}"), 404
        response = jsonify(item.json())
        if item.etag is not None:
            response.headers["ETag"] = item.etag
        return response

    @app.delete("/orders/<order_id>")
    def delete_order(order_id: str) -> Any:
        store.delete(order_id, etag=request.headers.get("If-Match"))
        return "", 204

    return app


if __name__ == "__main__":
    create_app().run()

"""The Flask example (examples/flask_app) with Flask's test client, against real stores."""

from __future__ import annotations

import importlib.util
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "flask_app"

STATESTORES = {
    "sqlite": "type: state.sqlite\n  version: v1\n  metadata:\n    - {{name: connectionString, value: '{db}'}}",
    "redis": "type: state.redis\n  version: v1\n  metadata:\n    - {{name: redisHost, value: '{address}'}}",
}


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flask_example_app", EXAMPLE / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def components(folder: Path, spec: str) -> Path:
    (folder / "statestore.yaml").write_text(
        f"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  {spec}\n"
        "scopes: [orders]\n"
    )
    (folder / "audit.yaml").write_text((EXAMPLE / "components" / "audit.yaml").read_text())
    return folder


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    folder = components(tmp_path, STATESTORES["sqlite"].format(db=tmp_path / "orders.db"))
    app = load_example().create_app(folder)
    yield app
    app.extensions["blockyard"].close()


def exercise(client: FlaskClient, order: str) -> None:
    assert client.get(f"/orders/{order}").status_code == 404
    created = client.put(f"/orders/{order}", json={"qty": 3})
    assert created.status_code == 200
    etag = created.get_json()["etag"]
    got = client.get(f"/orders/{order}")
    assert got.get_json() == {"qty": 3}
    assert got.headers["ETag"] == etag
    updated = client.put(f"/orders/{order}", json={"qty": 4}, headers={"If-Match": etag})
    assert updated.status_code == 200
    stale = client.put(f"/orders/{order}", json={"qty": 5}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.get_json() == {"error": "the order changed since you read it"}
    assert client.get(f"/orders/{order}").get_json() == {"qty": 4}
    assert client.put(f"/orders/{order}", data="not json").status_code == 400
    assert client.delete(f"/orders/{order}", headers={"If-Match": etag}).status_code == 412
    assert client.delete(f"/orders/{order}").status_code == 204
    assert client.get(f"/orders/{order}").status_code == 404


def test_flask_app_on_sqlite(sqlite_app: Flask) -> None:
    exercise(sqlite_app.test_client(), "order-1")
    yard = sqlite_app.extensions["blockyard"]
    assert list(yard) == ["statestore"]  # audit.yaml is scoped to another app


def test_flask_app_serves_concurrent_requests(sqlite_app: Flask) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            exercise(sqlite_app.test_client(), f"order-t{n}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.backend("redis")
def test_flask_app_on_redis(tmp_path: Path, backend_endpoint: Any) -> None:
    spec = STATESTORES["redis"].format(address=backend_endpoint.address)
    app = load_example().create_app(components(tmp_path, spec))
    try:
        exercise(app.test_client(), f"order-{uuid.uuid4().hex}")
    finally:
        app.extensions["blockyard"].close()

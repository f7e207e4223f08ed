"""Service invocation through two daprds: app A calls app B by its app id (over daprd's HTTP API and
through the Dapr SDK's gRPC client), names resolved on loopback (SQLite name resolution), and B
sees the W3C trace id of the request that reached A."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dapr_stack import HERE, Host

from blockyard_dapr.daprd import Daprd, build
from blockyard_dapr.testing import AppProcess

pytestmark = [pytest.mark.timeout(600), pytest.mark.backend("daprd", own=True)]


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Host]]:
    work = tmp_path_factory.mktemp("invoke")
    binary = build()
    sockets = Path(tempfile.mkdtemp(prefix="by-invoke-"))
    (work / "resources").mkdir()
    started: dict[str, Host] = {}
    try:
        for name in ("a", "b"):
            app = AppProcess(HERE / "invoke_app.py", work / f"app-{name}.log", env={"APP_NAME": name})
            daprd = Daprd(
                f"app-{name}",
                work / "resources",
                sockets,
                work / f"daprd-{name}.log",
                app_port=app.port,
                binary=binary,
                names_db=work / "names.db",
            )
            started[name] = Host(app, daprd).start()
        yield started
    finally:
        for host in started.values():
            host.stop()
        shutil.rmtree(sockets, ignore_errors=True)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_calls_b_by_app_id_and_the_trace_id_travels(hosts: dict[str, Host], protocol: str) -> None:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    reply = httpx.post(
        f"{hosts['a'].daprd.http_url}/v1.0/invoke/app-a/method/call/app-b/{protocol}",
        json={"order": 7},
        headers={"traceparent": f"00-{trace_id}-{span_id}-01"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    got = reply.json()
    assert got["caller"] == "a"
    assert got["reply"]["app"] == "b"
    assert got["reply"]["body"] == {"order": 7}
    seen = got["reply"]["traceparent"]
    assert seen is not None, "B got no traceparent"
    assert seen.split("-")[1] == trace_id, f"B saw trace {seen}, A was called with {trace_id}"

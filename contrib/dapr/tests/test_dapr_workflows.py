"""Dapr workflows on Blockyard state: a workflow of the Python SDK's workflow extension (two activities
and a durable timer) runs to completion with daprd keeping its history in ``state.redis`` served as a
pluggable component, and resumes where it was when its app is killed mid-run."""

from __future__ import annotations

import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dapr_stack import HERE, Host, read_events, wait_for_events

from blockyard_conformance.backends.launcher import get_launcher
from blockyard_dapr.daprd import Daprd, build
from blockyard_dapr.testing import AppProcess, ServeProcess
from blockyard_dapr.testing import component_document as component

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.backend("redis"),
    pytest.mark.backend("daprd", own=True),
    pytest.mark.backend("placement"),
    pytest.mark.backend("scheduler"),
]
TIMER_SECONDS = 6


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    launcher = get_launcher()
    redis = launcher.up("redis")
    work = tmp_path_factory.mktemp("workflows")
    sockets = Path(tempfile.mkdtemp(prefix="by-wf-"))
    (work / "resources").mkdir()
    (work / "resources" / "store.yaml").write_text(
        component(
            "wfstore", "state.blockyard-redis", {"redisHost": f"{redis.host}:{redis.port}", "actorStateStore": "true"}
        )
    )
    serve = ServeProcess(["--type", "state.redis"], sockets, ["blockyard-redis"], work / "serve.log").start()
    app = AppProcess(
        HERE / "workflow_app.py",
        work / "app.log",
        env={"WORKFLOW_EVENTS": str(work / "events.jsonl"), "TIMER_SECONDS": str(TIMER_SECONDS)},
    )
    daprd = Daprd(
        f"orders-{uuid.uuid4().hex[:6]}",
        work / "resources",
        sockets,
        work / "daprd.log",
        app_port=app.port,
        binary=build(),
        placement=launcher.up("placement").address,
        scheduler=launcher.up("scheduler").address,
    )
    host = Host(app, daprd).start()
    try:
        yield host
    finally:
        host.stop()
        serve.stop()
        shutil.rmtree(sockets, ignore_errors=True)


def events_of(host: Host) -> Path:
    return Path(host.app.env["WORKFLOW_EVENTS"])


def run_to_completion(host: Host, instance: str) -> Any:
    from dapr.ext.workflow import DaprWorkflowClient, WorkflowStatus

    client = DaprWorkflowClient(host="127.0.0.1", port=str(host.daprd.grpc_port))
    state = client.wait_for_workflow_completion(instance, timeout_in_seconds=180)
    assert state is not None
    assert state.runtime_status == WorkflowStatus.COMPLETED, state
    return state.serialized_output


def start(host: Host, item: str) -> str:
    from dapr.ext.workflow import DaprWorkflowClient

    client = DaprWorkflowClient(host="127.0.0.1", port=str(host.daprd.grpc_port))
    return client.schedule_new_workflow("order", input=item, instance_id=f"wf-{uuid.uuid4().hex[:8]}")


def steps(host: Host, instance: str) -> list[str]:
    return [e["event"] for e in read_events(events_of(host)) if e.get("instance") == instance]


def test_two_activities_and_a_timer_run_to_completion(host: Host) -> None:
    instance = start(host, "book")
    assert run_to_completion(host, instance) == '"shipped:reserved:book"'
    assert steps(host, instance) == ["reserve", "ship"]


def test_a_workflow_resumes_after_its_app_is_killed_mid_run(host: Host) -> None:
    instance = start(host, "lamp")
    wait_for_events(events_of(host), lambda events: any(e.get("instance") == instance for e in events))
    killed = host.app.process.pid if host.app.process else -1
    host.app.stop(sig=signal.SIGKILL)  # while the workflow waits on its timer (or just before)
    host.app.start(120)
    assert run_to_completion(host, instance) == '"shipped:reserved:lamp"'
    assert host.app.process is not None
    mine = [e for e in read_events(events_of(host)) if e.get("instance") == instance]
    # activities run at least once: reserve runs again only when the kill came before daprd had its result
    assert mine[0]["event"] == "reserve"
    assert mine[0]["pid"] == killed
    assert [e["pid"] for e in mine if e["event"] == "ship"] == [host.app.process.pid], (
        "the workflow did not finish in the restarted app"
    )

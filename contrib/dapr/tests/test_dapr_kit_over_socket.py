"""The conformance kit over a socket: ``blockyard conformance run --socket PATH --kind KIND``.

Blockyard's own components, served by ``blockyard serve --type``, pass the suites over the socket
with the same results as in-process (the same tests pass, the same are skipped, up to what the
protocol cannot carry); a deliberately broken served store fails.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from blockyard.errors import ComponentClosedError
from blockyard.pubsub import Message
from blockyard_conformance.backends.launcher import get_launcher
from blockyard_conformance.cases import Case, discover_cases, substitute
from blockyard_dapr.client import SocketPubSub
from blockyard_dapr.testing import ServeProcess

pytestmark = pytest.mark.timeout(900)
HERE = Path(__file__).parent
PLANTED = [sys.executable, str(HERE / "planted_serve.py")]
Serve = Callable[..., ServeProcess]

#: Blockyard extensions with no RPC in Dapr's protocol: over a socket they are not declared (skipped).
NOT_IN_PROTOCOL = {"delete-with-prefix", "keys-like"}
#: Fault scenarios need the component's own backend, to restart, kill, stall or put behind the kit's
#: proxy (and a subscriber process needs a broker apart from its own process); the socket client is
#: "embedded" to the kit and has none. They run for the in-process case in tests/test_cases.py; this
#: comparison leaves them out on both sides.
BACKEND_FAULT_TESTS = (
    "test_state_survives_a_backend_restart",
    "test_no_confirmed_message_lost_across_a_backend_restart",
    "test_acknowledged_writes_survive_a_backend_kill",
    "test_confirmed_messages_survive_a_backend_kill",
    "test_fails_fast_during_a_network_cut_and_recovers",
    "test_latency_and_stalls_slow_operations_only",
    "test_fails_fast_while_the_backend_stalls_and_recovers",
    "test_no_leaks_after_failures_behind_a_network_cut",
    "test_messages_held_by_a_killed_subscriber_are_redelivered",
)
#: Tests whose outcome over a socket differs from in-process by construction (they must not fail).
PROTOCOL_DIFFERENCES = {
    # the client keeps Init values of secret-looking names sensitive (only the server knows its
    # secrets), so this may run over the socket where the in-process case sets no secret and skips
    "test_sensitive_values_hidden",
    # invalid metadata goes to the served component at Init, not to the socket client
    "test_invalid_metadata_is_named",
}


#: Knobs about the in-process component's own backend or configuration, which the socket client
#: (configured with only a socket path) does not have: their tests run in-process only.
IN_PROCESS_KNOBS = {"restart_backend", "kill_backend", "network_faults", "invalid_metadata"}


def _case(case_id: str) -> Case:
    (case,) = [c for c in discover_cases() if c.id == case_id]
    return case


def _init_metadata(case: Case, tmp_path: Path) -> dict[str, str]:
    """The in-process case's component metadata (placeholders filled) — what the socket's Init gets."""
    endpoint = get_launcher().up(case.backend) if case.backend else None
    text = substitute(
        case.component,
        run_id="socket",
        tmpdir=str(tmp_path),
        endpoint=endpoint,
        source=case.source,
        case_dir=case.case_dir,
    )
    spec = yaml.safe_load(text)["spec"]
    return {m["name"]: str(m["value"]) for m in spec.get("metadata") or []}


def _run_kit(*args: str, report: Path) -> tuple[int, dict[str, Any]]:
    leave_out = " or ".join(BACKEND_FAULT_TESTS)
    command = [
        sys.executable,
        "-m",
        "blockyard.cli",
        "conformance",
        "run",
        *args,
        "--no-progress",
        "-k",
        f"not ({leave_out})",
    ]
    done = subprocess.run([*command, "--report-dir", str(report)], capture_output=True, text=True, timeout=800)
    data = json.loads((report / "report.json").read_text())
    return done.returncode, {c["case"]: c for c in data["cases"]}


def _outcomes(case: dict[str, Any]) -> dict[str, str]:
    return {
        t["name"]: t["outcome"]
        for t in case["tests"]
        if t["name"] not in PROTOCOL_DIFFERENCES and t["group"] not in NOT_IN_PROTOCOL
    }


def _knob_options(case: Case) -> list[str]:
    out = []
    for name, value in case.knobs.items():
        if name in IN_PROCESS_KNOBS:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        out += ["--knob", f"{name}={text}"]
    return out


@pytest.mark.parametrize(
    ("case_id", "served_type", "socket"),
    [
        pytest.param("state.sqlite", "state.sqlite", "blockyard-sqlite", id="state.sqlite"),
        pytest.param(
            "state.redis", "state.redis", "blockyard-redis", id="state.redis", marks=pytest.mark.backend("redis")
        ),
        pytest.param(
            "pubsub.redis", "pubsub.redis", "blockyard-redis", id="pubsub.redis", marks=pytest.mark.backend("redis")
        ),
        pytest.param("bindings.localstorage", "bindings.localstorage", "blockyard-localstorage", id="bindings"),
        pytest.param("secretstores.local.file", "secretstores.local.file", "blockyard-local-file", id="secrets"),
    ],
)
def test_served_components_pass_as_in_process(
    serve: Serve, tmp_path: Path, case_id: str, served_type: str, socket: str
) -> None:
    case = _case(case_id)
    served = serve("--type", served_type, sockets=[socket])
    init = _init_metadata(case, tmp_path)
    args = [case_id, "--socket", str(served.socket_path(socket)), "--kind", case.kind]
    for name, value in init.items():
        args += ["--init", f"{name}={value}"]
    code, cases = _run_kit(*args, *_knob_options(case), report=tmp_path / "report")
    over_socket = cases[f"{case.kind}.dapr-socket@{socket}"]
    in_process = cases[case_id]
    assert in_process["status"] == "passed", in_process
    failures = "\n\n".join(f"{t['name']}: {t['details']}" for t in over_socket["tests"] if t["outcome"] == "failed")
    assert over_socket["status"] == "passed", failures
    assert code == 0
    for t in over_socket["tests"]:
        if t["group"] in NOT_IN_PROTOCOL:
            assert t["outcome"] == "skipped", t
            assert "does not declare" in (t["reason"] or ""), t
    socket_outcomes, local_outcomes = _outcomes(over_socket), _outcomes(in_process)
    for outcome in ("passed", "skipped", "xfailed"):
        assert {n for n, o in socket_outcomes.items() if o == outcome} == {
            n for n, o in local_outcomes.items() if o == outcome
        }, f"tests {outcome} over the socket differ from in-process"


def test_a_served_store_that_ignores_etags_fails(tmp_path: Path, socket_folder: Path) -> None:
    served = ServeProcess(
        ["--type", "state.etag-blind"], socket_folder, ["blockyard-etag-blind"], tmp_path / "serve.log", program=PLANTED
    )
    with served:
        code, cases = _run_kit(
            "--socket", str(served.socket_path("blockyard-etag-blind")), "--kind", "state", report=tmp_path / "report"
        )
    (result,) = cases.values()
    assert code == 1
    assert result["status"] == "failed"
    failed = {t["name"] for t in result["tests"] if t["outcome"] == "failed"}
    assert {"test_etag_sequence", "test_etag_on_missing_key_is_mismatch"} <= failed
    assert all(
        t["group"] in ("etag", "first-write", "concurrency", "model") for t in result["tests"] if t["name"] in failed
    )


def test_socket_without_kind_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "blockyard.cli", "conformance", "run", "--socket", str(tmp_path / "x.sock")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "--socket and --kind go together" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_path_that_is_not_a_socket_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "blockyard.cli",
            "conformance",
            "run",
            "--socket",
            str(tmp_path / "plain"),
            "--kind",
            "state",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "not a Unix socket" in done.stderr
    assert "Traceback" not in done.stderr


async def _slow_attach(tmp_path: Path, socket_folder: Path, attach_timeout: str) -> list[str]:
    """Subscribe over the socket to a server that attaches 2 s late, publish "early" at once, then
    "probe" until one arrives (the subscription is then attached); what the handler got, in order."""
    served = ServeProcess(
        ["--type", "pubsub.slow-attach"],
        socket_folder,
        ["blockyard-slow-attach"],
        tmp_path / "serve.log",
        env={"SLOW_ATTACH_S": "2"},
        program=PLANTED,
    )
    got: asyncio.Queue[str] = asyncio.Queue()

    async def handler(message: Message) -> None:
        await got.put(message.data.decode())

    with served:
        path = str(served.socket_path("blockyard-slow-attach"))
        async with SocketPubSub({"socketPath": path, "attachTimeout": attach_timeout}, name="p") as pubsub:
            subscription = await pubsub.subscribe("t", handler)
            try:
                await pubsub.publish("t", b"early")
                seen: list[str] = []
                for _ in range(120):  # a hang guard, not a timing check
                    if "probe" in seen:
                        break
                    try:
                        seen.append(await asyncio.wait_for(got.get(), 0.5))
                    except TimeoutError:
                        await pubsub.publish("t", b"probe")
                else:
                    raise AssertionError(f"the subscription never delivered a probe; got {seen}")
            finally:
                await subscription.cancel()
    return seen


async def test_subscribe_returns_once_the_server_has_attached(tmp_path: Path, socket_folder: Path) -> None:
    seen = await _slow_attach(tmp_path, socket_folder, "60s")
    assert seen[0] == "early", "a message published right after subscribe returned was lost"


async def test_without_waiting_for_the_server_the_subscribe_race_loses_messages(
    tmp_path: Path, socket_folder: Path
) -> None:
    """The planted defect the wait exists for: not waiting (attachTimeout 0s) loses the early message."""
    seen = await _slow_attach(tmp_path, socket_folder, "0s")
    assert "early" not in seen


async def test_a_publish_cut_by_close_raises_component_closed(serve: Serve) -> None:
    """grpc.aio cancels the calls in flight when the client's channel closes; a publisher nobody
    cancelled gets ComponentClosedError (and can fail over), never a stray CancelledError."""
    served = serve("--type", "pubsub.in-memory", sockets=["blockyard-in-memory"])
    path = str(served.socket_path("blockyard-in-memory"))
    outcomes: list[str] = []
    for attempt in range(40):
        pubsub = SocketPubSub({"socketPath": path}, name="p")
        await pubsub.init()

        async def publish_until_closed(client: SocketPubSub = pubsub) -> None:
            while True:
                await client.publish("t", b"x")

        publisher = asyncio.create_task(publish_until_closed())
        await asyncio.sleep(0.001 * (attempt % 5))
        await pubsub.close()
        with pytest.raises(ComponentClosedError) as closed:
            await asyncio.wait_for(publisher, 10)
        outcomes.append(str(closed.value))
    assert any("closed while the operation ran" in text for text in outcomes), "no publish was cut in 40 closes"

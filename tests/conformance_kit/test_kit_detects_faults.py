"""The reliability scenarios fail components that break under real faults, and pass correct ones.

The backend is the launcher's in-memory http-echo server (a real process on 127.0.0.1, started for
the inner run and stopped after it); the faults are the kit's own: its TCP proxy and a SIGKILL by
the launcher. Each planted defect must fail the named scenario, with the scenario's own message.
"""

from __future__ import annotations

import pytest
from kit_selftest import run_with_own_backends

pytest_plugins = ["pytester"]

BACKEND_FAULT_TESTS = {
    "test_fails_fast_during_a_network_cut_and_recovers",
    "test_latency_and_stalls_slow_operations_only",
    "test_acknowledged_writes_survive_a_backend_kill",
    "test_confirmed_messages_survive_a_backend_kill",
    "test_no_leaks_after_failures_behind_a_network_cut",
}
"""The suite tests whose planted defects need a backend; the coverage guard counts them."""

HTTP_STORE = """
from http_echo_fakes import HttpEchoStore as HttpStore
"""


def _store_suite(timeout: float | None, **knobs: object) -> str:
    lines = "".join(f"    {k} = {v!r}\n" for k, v in knobs.items())
    return f"""
class TestHttpStore(StateStoreSuite):
    component_class = HttpStore
    backend = "http-echo"
    operation_timeout = 2.0
    recovery_within = 10.0
{lines}
    def component_metadata(self, env):
        return {{"url": env.endpoint.url, "timeout": {timeout!r}}}
"""


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, suite: str, test: str) -> pytest.RunResult:
    return run_with_own_backends(pytester, monkeypatch, HTTP_STORE, suite, test)


def test_store_with_timeouts_passes_the_network_scenarios(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store whose calls time out after 1 s passes the cut, the latency and the leak scenarios."""
    suite = _store_suite(1.0, network_faults=True)
    result = _run(pytester, monkeypatch, suite, "network_cut or latency_and_stalls")
    result.assert_outcomes(passed=3)


def test_hanging_store_fails_the_cut_scenario(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store with no timeout hangs during a cut: the scenario fails on the hang, not on its own time-out."""
    test = "test_fails_fast_during_a_network_cut_and_recovers"
    result = _run(pytester, monkeypatch, _store_suite(None, network_faults=True), test)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*an operation hung for 7s during a network cut*"])


def test_store_with_a_timeout_below_the_latency_fails_the_latency_scenario(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that gives up after 0.3 s fails once 200 ms of latency are added each way."""
    test = "test_latency_and_stalls_slow_operations_only"
    result = _run(pytester, monkeypatch, _store_suite(0.3, network_faults=True), test)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*an operation failed under latency and stalls*"])


def test_store_that_forgets_a_connection_fails_the_leak_scenario(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that opens a watch connection to its backend and never closes it still holds it after
    close: the cut's leak scenario fails on it."""
    body = (
        HTTP_STORE
        + """
import httpx

class Watching(HttpStore):
    async def _init(self):
        await super()._init()
        url = httpx.URL(self.meta.url)
        self.watch = await asyncio.open_connection(url.host, url.port)
"""
    )
    suite = _store_suite(1.0, network_faults=True).replace("component_class = HttpStore", "component_class = Watching")
    test = "test_no_leaks_after_failures_behind_a_network_cut"
    result = run_with_own_backends(pytester, monkeypatch, body, suite, test)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*1 of the component's * connections to its backend are still open after close()*"])


def test_store_that_forgets_on_a_kill_fails_the_durability_scenario(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-memory http-echo backend loses every acknowledged write when the launcher SIGKILLs it."""
    test = "test_acknowledged_writes_survive_a_backend_kill"
    result = _run(pytester, monkeypatch, _store_suite(5.0, kill_backend=True, durable_writes=100), test)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*100 of 100 acknowledged writes lost in a SIGKILL*"])


FORGETFUL_BROKER = """
from http_echo_fakes import HttpEchoBroker as Forgetful
"""

BROKER_SUITE = """
class TestForgetful(PubSubSuite):
    component_class = Forgetful
    backend = "http-echo"
    kill_backend = True
    restart_timeout = 10.0
    reliability_messages = 300

    def component_metadata(self, env):
        return {"url": env.endpoint.url}
"""


def test_broker_that_forgets_on_a_kill_fails_the_delivery_scenario(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Confirmed but undelivered messages of an in-memory broker are gone after a SIGKILL."""
    test = "test_confirmed_messages_survive_a_backend_kill"
    result = run_with_own_backends(pytester, monkeypatch, FORGETFUL_BROKER, BROKER_SUITE, test)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*every confirmed message after the kill*"])


CURSOR_BROKER = """
from http_echo_fakes import CursorBroker

class AckOnReceipt(CursorBroker):
    ack_on_receipt = True  # the cursor moves on before the handler finished: a crash loses the message
"""


def _broker_suite(component: str) -> str:
    return f"""
class TestCursorBroker(PubSubSuite):
    component_class = {component}
    backend = "http-echo"
    max_concurrent_handlers = 1
    held_redelivery_within = 10.0

    def component_metadata(self, env):
        return {{"url": env.endpoint.url}}
"""


HELD_TEST = "test_messages_held_by_a_killed_subscriber_are_redelivered"
BACKEND_FAULT_TESTS.add(HELD_TEST)


def test_broker_acknowledging_after_handling_passes_the_subscriber_kill(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscriber process SIGKILLed while it holds a message: the group's cursor had not moved past
    it, so the next subscriber gets it and everything after it."""
    result = run_with_own_backends(pytester, monkeypatch, CURSOR_BROKER, _broker_suite("CursorBroker"), HELD_TEST)
    result.assert_outcomes(passed=1)


def test_broker_acknowledging_on_receipt_fails_the_subscriber_kill(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planted defect: the cursor moves on when a message is received, so the message the killed
    subscriber held is never delivered again."""
    result = run_with_own_backends(pytester, monkeypatch, CURSOR_BROKER, _broker_suite("AckOnReceipt"), HELD_TEST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*every message after the subscriber holding [[]0[]] was killed (missing 1, e.g. [[]0[]])*"]
    )

"""The kit fails components that break the contract, one defect each, and passes correct ones.

Each planted defect is a small broken component (a reference fake with one rule broken) run
through its suite with pytester; the named suite test must fail on its own check (see
``kit_selftest``), and every suite test has at least one such defect.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from defects_other import BINDING_DEFECTS, LIMIT_SUITE, PUBSUB_DEFECTS, SECRET_DEFECTS
from defects_state import STALL_SUITE, STALL_TEST, STALLABLE, STATE_DEFECTS, STATE_SUITE
from kit_selftest import Defect, assert_detected, run_inner, run_with_own_backends, suite_tests, write_case
from test_kit_detects_faults import BACKEND_FAULT_TESTS
from test_query_kit_detects_defects import QUERY_DEFECTS

from blockyard_conformance import BindingSuite, PubSubSuite, SecretStoreSuite, StateStoreSuite
from blockyard_conformance.backends.launcher import Launcher
from blockyard_conformance.backends.recipe import port_open
from blockyard_conformance.state_model import SEED_ENV

pytest_plugins = ["pytester"]

DEFECTS: dict[str, Defect] = {
    **{f"state/{k}": v for k, v in STATE_DEFECTS.items()},
    **{f"pubsub/{k}": v for k, v in PUBSUB_DEFECTS.items()},
    **{f"secretstores/{k}": v for k, v in SECRET_DEFECTS.items()},
    **{f"bindings/{k}": v for k, v in BINDING_DEFECTS.items()},
}

REGISTERED_SPEC_DEFECT = "test_registered_spec_matches_class"
"""Planted in a subprocess (it registers a component type), by the test below."""

FAULT_TESTS = {
    "StateStoreSuite": "test_state_survives_a_backend_restart",
    "PubSubSuite": "test_no_confirmed_message_lost_across_a_backend_restart",
}
"""Planted with a backend the launcher restarts (see the fault self-tests below)."""


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_defect_fails_its_suite_test(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, defect: str) -> None:
    monkeypatch.setenv(SEED_ENV, "1")  # the model test's sequences are the same on every run
    planted = DEFECTS[defect]
    result = run_inner(pytester, planted.body, planted.suite, planted.test)
    assert_detected(result, planted.test, defect)


def test_a_broker_keeping_its_redelivery_limit_and_backoff_passes(pytester: pytest.Pytester) -> None:
    """The reference broker with the limit and backoff ``LIMIT_SUITE`` declares passes the test its
    planted defects fail."""
    body = """
    class Broken(RefPubSub):  # the name LIMIT_SUITE runs; nothing is broken
        max_redeliveries = 3
        backoff = 0.2
    """
    result = run_inner(pytester, body, LIMIT_SUITE, "test_redelivery_limit_and_backoff")
    result.assert_outcomes(passed=1)


def test_a_store_failing_fast_while_stalled_passes(pytester: pytest.Pytester) -> None:
    """The store the stall defects break passes the stall test, and was really stalled: its write
    failed (the run notes how fast) and the one after the stall read back."""
    result = run_inner(pytester, STALLABLE + "\nBroken = Stallable\n", STALL_SUITE, STALL_TEST)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*stalled backend: failure_s=0.0*, recovery_s=*"])


def test_the_stall_test_skips_without_a_stall(pytester: pytest.Pytester) -> None:
    """A case that supplies no stall (knob ``stall_backend``) skips the stall test, saying why."""
    result = run_inner(pytester, STALLABLE + "\nBroken = Stallable\n", STATE_SUITE, STALL_TEST)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*the case supplies no way to stall its backend (knob 'stall_backend')*"])


@pytest.mark.parametrize(
    "suite", [StateStoreSuite, PubSubSuite, SecretStoreSuite, BindingSuite], ids=lambda s: s.__name__
)
def test_every_suite_test_has_a_planted_defect(suite: type) -> None:
    """No suite test goes without a defect it is shown to catch (lifecycle tests: via the state suite;
    the query tests: in ``test_query_kit_detects_defects``)."""
    covered = {d.test for d in DEFECTS.values()} | {REGISTERED_SPEC_DEFECT, *FAULT_TESTS.values()}
    covered |= {test for _, test in QUERY_DEFECTS.values()} | BACKEND_FAULT_TESTS
    uncovered = sorted(suite_tests(suite) - covered)
    assert not uncovered, f"{suite.__name__} tests without a planted defect: {uncovered}"


def test_spec_declaring_other_features_fails_the_kit(pytester: pytest.Pytester) -> None:
    """A plugin whose registered ComponentSpec declares other features than its class fails."""
    body = """
    from blockyard.registry import ComponentSpec, get_registry

    class Broken(RefStateStore):
        type = "state.broken-spec"

    features = sorted(str(f) for f in Broken.features if str(f) != "TTL")
    get_registry().register(ComponentSpec("state", "broken-spec", "test_case:Broken", features=features))
    """
    # In a subprocess: the registration must not outlive the inner run.
    write_case(pytester, body, STATE_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", REGISTERED_SPEC_DEFECT, "-rfEs")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: ComponentSpec.features differ from the class*"])


@pytest.mark.parametrize("given", [False, True], ids=["launcher-started", "from-the-environment"])
def test_data_lost_in_a_backend_restart_fails_the_kit(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: bool
) -> None:
    """A store kept in a backend that forgets everything when it restarts (the in-memory http-echo
    server) fails the fault test once its case lets the kit restart the backend; also when the
    suite's backend is someone else's (``BLOCKYARD_HTTP_ECHO_URL``): the test then restarts a private
    server of its own, which it stops afterwards, and the given server is left alone."""
    body = """
    from http_echo_fakes import HttpEchoStore as Forgetful
    """
    suite = """
class TestForgetful(StateStoreSuite):
    component_class = Forgetful
    backend = "http-echo"
    restart_backend = True

    def component_metadata(self, env):
        return {"url": env.endpoint.url}
"""
    owner = Launcher(tmp_path / "owner-state", use_docker=False)
    try:
        if given:
            served = owner.up("http-echo")
            (before,) = owner.status("http-echo")
            monkeypatch.setenv("BLOCKYARD_HTTP_ECHO_URL", served.url)
        result = run_with_own_backends(pytester, monkeypatch, body, suite, FAULT_TESTS["StateStoreSuite"])
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*assert None == {'kept': True}*"])  # the data was lost, nothing else
        if given:
            (after,) = owner.status("http-echo")
            assert (after.state, after.pid) == ("ready", before.pid), "the given server was restarted or stopped"
            private = re.search(r"restarted a private http-echo at 127\.0\.0\.1:(\d+)", result.stdout.str())
            assert private is not None, "the fault test did not say it used a private server"
            assert not port_open(int(private.group(1))), "the private server outlived the test"
    finally:
        owner.down()


def test_messages_lost_in_a_backend_restart_fail_the_kit(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker that keeps its messages in the in-memory http-echo server loses the confirmed but not
    yet delivered ones when it restarts: the pub/sub fault test fails on the missing messages."""
    body = """
    from http_echo_fakes import HttpEchoBroker

    class Forgetful(HttpEchoBroker):
        pause_between_messages = 0.01  # the publisher keeps ahead: confirmed messages wait undelivered
    """
    suite = """
class TestForgetful(PubSubSuite):
    component_class = Forgetful
    backend = "http-echo"
    restart_backend = True
    restart_timeout = 45.0  # bounds publishing too: room for a loaded machine; the lost messages never come

    def component_metadata(self, env):
        return {"url": env.endpoint.url}
"""
    result = run_with_own_backends(pytester, monkeypatch, body, suite, FAULT_TESTS["PubSubSuite"])
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: timed out after * waiting for every confirmed message*"])


CORRECT = """
class TestRefState(StateStoreSuite):
    component_class = RefStateStore
    metadata = {"namespace": "n", "password": "sup3r-s3cret"}
    invalid_metadata = [{"password": {"not": ["a", "string"]}}]

class TestRefStateOnAClock(StateStoreSuite):
    component_class = RefStateStore
    metadata = {"namespace": "n"}

    def model_clock(self, store):
        clock = FakeClock()
        store.now = clock.now
        return clock

class TestRefPubSub(PubSubSuite):
    component_class = RefPubSub
    max_concurrent_handlers = 1
    max_redeliveries = 0
    redelivery_backoff = 0.01

class TestRefSecrets(SecretStoreSuite):
    component_class = RefSecretStore
    versions = {"1": {"versioned": "v1"}, "2": {"versioned": "v2"}}
    hidden_secrets = ["internal"]

class TestRefBinding(BindingSuite):
    component_class = RefBinding
    operations = ["create", "get", "list", "delete"]
    output_metadata = {"key": "k1"}
    read = True
"""


def test_correct_components_pass(pytester: pytest.Pytester) -> None:
    write_case(pytester, "", CORRECT)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rfEs")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()[-4000:]
    assert outcomes.get("errors", 0) == 0, result.stdout.str()[-4000:]
    assert outcomes["passed"] >= 60
    skipped = [line for line in result.outlines if line.startswith("SKIPPED")]
    allowed = (
        "not registered",
        "no required field",
        "no sensitive metadata",
        "not declared",
        "does not exercise",
        "no backend to restart",
        "no backend to kill",
        "no network path to break",
        "no way to stall its backend",
        "names no invalid_metadata",
        "dies with the subscriber's process",
    )
    assert all(any(a in line for a in allowed) for line in skipped), skipped


def test_undeclared_features_are_checked_absent(pytester: pytest.Pytester) -> None:
    """A plain store declaring nothing passes; the same store claiming a feature without it fails."""
    body = """
    from blockyard.state import StateStore
    class Plain(StateStore):
        type = "state.plain"
        async def _init(self):
            self.d = {}
        async def _get(self, key, consistency, metadata):
            return StateItem(key, self.d.get(key))
        async def _set(self, op):
            self.d[op.key] = op.value
        async def _delete(self, op):
            self.d.pop(op.key, None)
    """
    suite = """
class TestPlain(StateStoreSuite):
    component_class = Plain
"""
    result = run_inner(pytester, body, suite, "test_features_both_ways or test_etag_sequence")
    result.assert_outcomes(passed=1, skipped=1)
    assert any("not declared: state.plain does not declare ETAG" in line for line in result.outlines)


NUL_REFUSED = """
from blockyard.errors import InvalidRequestError

class NoNul(RefStateStore):
    async def _set(self, op):
        if "\\x00" in op.key:
            raise InvalidRequestError("keys must not contain NUL")
        return await super()._set(op)
"""


@pytest.mark.parametrize("listed", [True, False], ids=["listed", "not-listed"])
def test_a_documented_key_refusal_passes_only_when_the_case_lists_it(pytester: pytest.Pytester, listed: bool) -> None:
    """A store refusing NUL keys with an InvalidRequestError (naming the key) passes the hostile-key
    scenario when its case lists the entries in ``hostile_refused``, and fails it otherwise."""
    knob = "    hostile_refused = ['nul', 'nul-twin']\n" if listed else ""
    suite = f"""
class TestNoNul(StateStoreSuite):
    component_class = NoNul
    metadata = {{"namespace": "n"}}
{knob}"""
    result = run_inner(pytester, NUL_REFUSED, suite, "test_hostile_keys_round_trip_or_are_refused_typed")
    if listed:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*hostile key nul * was refused *; list it in knob hostile_refused*"])

"""The kit fails components that break the contract, one defect each, and passes correct ones.

Each case writes a small test module (a broken fake component + a suite subclass) and runs it
with pytester; the named conformance test must fail.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from blockyard_conformance.backends.launcher import Launcher

pytest_plugins = ["pytester"]

KIT_DIR = Path(__file__).parent
INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

HEADER = f"""
import asyncio, sys
sys.path.insert(0, {str(KIT_DIR)!r})
from reference_fakes import *
from blockyard.errors import ETagMismatchError
from blockyard.state import SetOp, DeleteOp, StateItem
from blockyard.subscription import HandlerResult
from blockyard_conformance import StateStoreSuite, PubSubSuite, SecretStoreSuite, BindingSuite
"""

STATE_DEFECTS = {
    "wrong-etag-ignored": (
        """
        class Broken(RefStateStore):
            async def _set(self, op):
                self._check(op.key, None, op.first_write)
                return self._apply_set(op)
        """,
        "test_etag_sequence",
    ),
    "etag-unchanged-by-write": (
        """
        class Broken(RefStateStore):
            def _apply_set(self, op):
                old = self.data.get(op.key)
                etag = old[1] if old else "e-" + op.key
                self.data[op.key] = (op.value, etag, None)
                return etag
        """,
        "test_every_write_changes_etag",
    ),
    "non-atomic-first-write": (
        """
        class Broken(RefStateStore):
            async def _set(self, op):
                if op.first_write:
                    exists = self._live(op.key) is not None
                    await asyncio.sleep(0)
                    if exists:
                        raise ETagMismatchError("exists")
                    return self._apply_set(op)
                return await super()._set(op)
        """,
        "test_concurrent_first_write_has_one_winner",
    ),
    "ttl-never-expires": (
        """
        class Broken(RefStateStore):
            def _live(self, key):
                return self.data.get(key)
        """,
        "test_ttl_expires_and_later_writes_reset_it",
    ),
    "bulk-get-drops-missing-keys": (
        """
        class Broken(RefStateStore):
            async def _bulk_get(self, keys, consistency, metadata):
                items = [await self._get(k, consistency, metadata) for k in keys]
                return [i for i in items if i.value is not None]
        """,
        "test_bulk_get_returns_every_key_in_order",
    ),
    "partial-transaction": (
        """
        class Broken(RefStateStore):
            async def _transact(self, ops, metadata):
                for op in ops:
                    self._check(op.key, op.etag, isinstance(op, SetOp) and op.first_write)
                    if isinstance(op, SetOp):
                        self._apply_set(op)
                    else:
                        self.data.pop(op.key, None)
        """,
        "test_transaction_with_failing_etag_changes_nothing",
    ),
    "delete-ignores-etag": (
        """
        class Broken(RefStateStore):
            async def _delete(self, op):
                self.data.pop(op.key, None)
        """,
        "test_etag_sequence",
    ),
    "declared-feature-not-implemented": (
        """
        class Broken(RefStateStore):
            async def _keys_like(self, pattern, page_size, token):
                raise NotImplementedError("keys like")
        """,
        "test_keys_like_patterns",
    ),
    "missing-key-is-an-error": (
        """
        class Broken(RefStateStore):
            async def _get(self, key, consistency, metadata):
                item = await super()._get(key, consistency, metadata)
                if item.value is None:
                    raise KeyError(key)
                return item
        """,
        "test_missing_key_reads_as_no_item",
    ),
    "secret-in-repr": (
        """
        class Broken(RefStateStore):
            def __repr__(self):
                return f"<Broken password={self.meta.password.get_secret_value()}>"
        """,
        "test_sensitive_values_hidden",
    ),
}


def run_suite(pytester: pytest.Pytester, body: str, suite: str, test: str) -> pytest.RunResult:
    pytester.makeini(INI)
    pytester.makepyfile(test_case=HEADER + textwrap.dedent(body) + suite)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", test, "-rfEs")


def failed_tests(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith(("FAILED", "ERROR"))]


STATE_SUITE = """
class TestBroken(StateStoreSuite):
    component_class = Broken
    metadata = {"namespace": "n", "password": "sup3r-s3cret"}
    concurrent_writers = 10
    model_examples = 3
    ttl_timeout = 3.0
"""


@pytest.mark.parametrize("defect", sorted(STATE_DEFECTS))
def test_state_defect_fails_the_kit(pytester: pytest.Pytester, defect: str) -> None:
    body, test = STATE_DEFECTS[defect]
    result = run_suite(pytester, body, STATE_SUITE, test)
    failed = failed_tests(result)
    assert any(test in line for line in failed), f"{defect}: {test} did not fail:\n{result.stdout.str()[-3000:]}"


def test_broker_dropping_failed_messages_fails_redelivery(pytester: pytest.Pytester) -> None:
    body = """
    class Broken(RefPubSub):
        def on_result(self, group, item, result):
            pass  # a RETRY is acknowledged: the message is lost
    """
    suite = """
class TestBroken(PubSubSuite):
    component_class = Broken
    delivery_timeout = 2.0
    redelivery_message_count = 200
"""
    result = run_suite(pytester, body, suite, "test_redelivery_loses_no_message")
    assert any("test_redelivery_loses_no_message" in line for line in failed_tests(result)), result.stdout.str()


def test_broker_without_competing_consumers_fails_groups(pytester: pytest.Pytester) -> None:
    body = """
    class Broken(RefPubSub):
        async def _subscribe(self, req):
            req.consumer_group = req.consumer_group + str(id(req))
            return await super()._subscribe(req)
    """
    suite = """
class TestBroken(PubSubSuite):
    component_class = Broken
    delivery_timeout = 2.0
"""
    result = run_suite(pytester, body, suite, "test_consumer_groups_fan_out_and_compete")
    assert any("test_consumer_groups" in line for line in failed_tests(result)), result.stdout.str()


def test_secret_store_returning_empty_for_missing_fails(pytester: pytest.Pytester) -> None:
    body = """
    class Broken(RefSecretStore):
        async def _get_secret(self, name, metadata):
            if name not in self.SECRETS:
                return {name: ""}
            return await super()._get_secret(name, metadata)
    """
    suite = """
class TestBroken(SecretStoreSuite):
    component_class = Broken
"""
    result = run_suite(pytester, body, suite, "test_missing_secret_raises")
    assert any("test_missing_secret_raises" in line for line in failed_tests(result)), result.stdout.str()


def test_binding_get_not_returning_created_data_fails(pytester: pytest.Pytester) -> None:
    body = """
    class Broken(RefBinding):
        async def _invoke(self, req):
            resp = await super()._invoke(req)
            if req.operation == "get":
                resp.data = b"something else"
            return resp
    """
    suite = """
class TestBroken(BindingSuite):
    component_class = Broken
    operations = ["create", "get", "delete"]
    output_metadata = {"key": "k"}
"""
    result = run_suite(pytester, body, suite, "test_get_returns_created_data or test_delete")
    failed = failed_tests(result)
    assert any("test_get_returns_created_data" in line for line in failed), result.stdout.str()
    assert any("test_delete" in line for line in failed), result.stdout.str()


def test_data_lost_in_a_backend_restart_fails_the_kit(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store kept in a backend that forgets everything when it restarts (the in-memory http-echo
    server) fails the fault test once its case lets the kit restart the backend."""
    body = """
    import httpx
    from blockyard.metadata import ComponentMetadata, meta
    from blockyard.state import StateStore

    class ForgetfulMetadata(ComponentMetadata):
        url: str = meta(description="the http-echo server")

    class Forgetful(StateStore):
        type = "state.forgetful"
        Metadata = ForgetfulMetadata

        async def _init(self):
            self.http = httpx.AsyncClient(base_url=self.meta.url)

        async def _close(self):
            await self.http.aclose()

        async def _get(self, key, consistency, metadata):
            resp = await self.http.get("/" + key)
            return StateItem(key, resp.content if resp.status_code == 200 else None)

        async def _set(self, op):
            (await self.http.put("/" + op.key, content=op.value)).raise_for_status()

        async def _delete(self, op):
            (await self.http.delete("/" + op.key)).raise_for_status()
    """
    suite = """
class TestForgetful(StateStoreSuite):
    component_class = Forgetful
    backend = "http-echo"
    restart_backend = True

    def component_metadata(self, env):
        return {"url": env.endpoint.url}
"""
    # In a subprocess: an in-process run would re-import httpx's lazily loaded modules afresh for the
    # tests that follow (pytester restores sys.modules), and break their exception classes.
    pytester.makeini(INI)
    pytester.makepyfile(test_case=HEADER + textwrap.dedent(body) + suite)
    state = pytester.path / "launcher-state"  # the inner run's own backends, all stopped below
    monkeypatch.setenv("BLOCKYARD_STATE_DIR", str(state))
    try:
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "-k", "test_state_survives_a_backend_restart", "-rfEs"
        )
    finally:
        Launcher(state).down()
    assert not list(state.glob("*/state.json")), "a backend of the inner run is still recorded as running"
    failed = failed_tests(result)
    assert any(line.startswith("FAILED") and "test_state_survives_a_backend_restart" in line for line in failed), (
        result.stdout.str()
    )
    result.stdout.fnmatch_lines(["*assert None == {'kept': True}*"])  # the data was lost, nothing else


CORRECT = """
class TestRefState(StateStoreSuite):
    component_class = RefStateStore
    metadata = {"namespace": "n", "password": "sup3r-s3cret"}

class TestRefPubSub(PubSubSuite):
    component_class = RefPubSub

class TestRefSecrets(SecretStoreSuite):
    component_class = RefSecretStore
    versions = {"1": {"versioned": "v1"}, "2": {"versioned": "v2"}}

class TestRefBinding(BindingSuite):
    component_class = RefBinding
    operations = ["create", "get", "list", "delete"]
    output_metadata = {"key": "k1"}
    read = True
"""


def test_correct_components_pass(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_case=HEADER + CORRECT)
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
    result = run_suite(pytester, body, suite, "test_features_both_ways or test_etag_sequence")
    result.assert_outcomes(passed=1, skipped=1)
    assert any("not declared: state.plain does not declare ETAG" in line for line in result.outlines)

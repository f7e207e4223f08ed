"""How the kit's self-tests run a suite on a planted defect and judge the result.

A planted defect counts as detected only when the named suite test FAILS in its call phase on the
suite's own check: an ``AssertionError`` (or ``pytest.fail``, e.g. "DID NOT RAISE") raised in the
kit's code. An error in set-up, an exception escaping from the component, or a failure of another
test does not count.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from blockyard_conformance.backends.launcher import Launcher

KIT_DIR = Path(__file__).parent
INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

HEADER = f"""
import asyncio, sys, time, unicodedata
sys.path.insert(0, {str(KIT_DIR)!r})
from reference_fakes import *
from blockyard.errors import ETagMismatchError, SecretNotFoundError
from blockyard.bindings import BindingResponse
from blockyard.state import SetOp, DeleteOp, StateItem, KeysPage, compile_like
from blockyard.subscription import HandlerResult
from blockyard.envelope import wrap
import orjson
from blockyard_conformance import StateStoreSuite, PubSubSuite, SecretStoreSuite, BindingSuite
"""

_OWN_FAILURES = ("AssertionError", "assert ", "Failed:")


@dataclass(frozen=True, slots=True)
class Defect:
    """One planted defect: the broken component's code, the suite class around it, the test it must fail."""

    body: str
    test: str
    suite: str


def write_case(pytester: pytest.Pytester, body: str, suite: str) -> None:
    """Write the inner test module (the broken component and its suite subclass) and its ini."""
    pytester.makeini(INI)
    pytester.makepyfile(test_case=HEADER + textwrap.dedent(body) + suite)


def run_inner(pytester: pytest.Pytester, body: str, suite: str, selector: str) -> pytest.RunResult:
    """Run the tests matching ``selector`` (a ``-k`` expression) of the inner module, in process."""
    write_case(pytester, body, suite)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", selector, "-rfEs")


def own_failures(result: pytest.RunResult, test: str) -> tuple[list[str], list[str]]:
    """(node ids of ``test`` that failed on the kit's own check, descriptions of every other outcome)."""
    own: list[str] = []
    other: list[str] = []
    reports = result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
    for rep in reports:
        name = rep.nodeid.split("::")[-1].split("[")[0]
        if name != test:
            continue
        if rep.when != "call" and rep.passed:
            continue
        crash = getattr(rep.longrepr, "reprcrash", None)
        in_kit = crash is not None and "blockyard_conformance" in str(crash.path)
        by_check = crash is not None and crash.message.startswith(_OWN_FAILURES)
        if rep.when == "call" and rep.failed and in_kit and by_check:
            own.append(rep.nodeid)
        else:
            where = f"{crash.path}:{crash.lineno}: {crash.message[:300]}" if crash is not None else str(rep.longrepr)
            other.append(f"{rep.nodeid} [{rep.when}] {rep.outcome}: {where}")
    return own, other


def assert_detected(result: pytest.RunResult, test: str, what: str) -> None:
    """Every selected run of ``test`` failed on the kit's own check."""
    own, other = own_failures(result, test)
    tail = result.stdout.str()[-3000:]
    assert own, f"{what}: {test} did not fail on its own check; outcomes: {other}\n{tail}"
    assert not other, f"{what}: {test} also ended otherwise: {other}\n{tail}"


def suite_tests(suite_class: type) -> set[str]:
    """The names of the test methods a suite class defines or inherits."""
    return {name for name in dir(suite_class) if name.startswith("test_") and callable(getattr(suite_class, name))}


def run_with_own_backends(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, body: str, suite: str, test: str
) -> pytest.RunResult:
    """Run ``test`` of the inner module in a subprocess with its own launcher state, stopped after.

    In a subprocess: an in-process run would re-import httpx's lazily loaded modules afresh for the
    tests that follow (pytester restores sys.modules), and break their exception classes.
    """
    write_case(pytester, body, suite)
    state = pytester.path / "launcher-state"  # the inner run's own backends, all stopped below
    monkeypatch.setenv("BLOCKYARD_STATE_DIR", str(state))
    try:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", test, "-rfEs")
    finally:
        Launcher(state).down()
    assert not list(state.glob("*/state.json")), "a backend of the inner run is still recorded as running"
    return result

"""Collect test outcomes per case during a pytest run, and fold them into case results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import pytest

from blockyard_conformance.accounting import RELIABILITY_PROPERTY
from blockyard_conformance.marks import NOT_DECLARED, NOT_RUN, group_of

__all__ = ["CaseResult", "Collector", "TestOutcome", "fold"]

GROUP_ORDER = (
    "lifecycle",
    "core",
    "etag",
    "first-write",
    "concurrency",
    "transactions",
    "ttl",
    "delete-with-prefix",
    "keys-like",
    "query",
    "model",
    "consumer-groups",
    "redelivery",
    "ordered",
    "bulk",
    "operations",
    "input",
    "multi-key",
    "versions",
    "fault",
)


@dataclass(slots=True)
class TestOutcome:
    """One test of one case: ``outcome`` is passed, failed, skipped or xfailed."""

    __test__ = False

    case: str
    name: str
    group: str
    outcome: str = "passed"
    duration_s: float = 0.0
    reason: str | None = None
    details: str | None = None
    backend: str | None = None
    notes: list[str] = field(default_factory=list)
    """What the suite noted while it ran (e.g. which of two honest answers the component gave)."""
    reliability: list[dict[str, Any]] = field(default_factory=list)
    """The figures of the reliability scenarios this test ran (``scenario`` plus counts and seconds)."""


@dataclass(slots=True)
class CaseResult:
    """The result of one case, as written to ``report.json``."""

    case: str
    component: str
    backend: str
    status: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    xfailed: int = 0
    duration_s: float = 0.0
    reason: str | None = None
    enable_command: str | None = None
    log_tail: str | None = None
    tests: list[TestOutcome] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSON form (tests included, and the ``reliability`` section)."""
        return {**asdict(self), "reliability": self.reliability()}

    def reliability(self) -> list[dict[str, Any]]:
        """Every reliability scenario this case ran: its test, outcome and figures."""
        return [{"test": t.name, "outcome": t.outcome, **fig} for t in self.tests for fig in t.reliability]

    def groups(self) -> dict[str, tuple[str, str | None]]:
        """Capability group -> (status, reason): passed, failed, xfailed, skipped, not declared, not run."""
        if self.status == "not-run":
            return dict.fromkeys(self.present_groups(), ("not run", self.reason))
        out: dict[str, tuple[str, str | None]] = {}
        for g in self.present_groups():
            tests = [t for t in self.tests if t.group == g]
            outcomes = {t.outcome for t in tests}
            if "failed" in outcomes:
                out[g] = ("failed", None)
            elif "passed" in outcomes:
                out[g] = ("passed", None)
            elif "xfailed" in outcomes:
                out[g] = ("xfailed", next(t.reason for t in tests if t.outcome == "xfailed"))
            else:
                reasons = [t.reason or "" for t in tests]
                if all(r.startswith(NOT_DECLARED) for r in reasons):
                    out[g] = ("not declared", reasons[0].removeprefix(NOT_DECLARED))
                elif all(r.startswith(NOT_RUN) for r in reasons):
                    out[g] = ("not run", reasons[0].removeprefix(NOT_RUN))
                else:
                    out[g] = ("skipped", next(r for r in reasons if not r.startswith(NOT_DECLARED)))
        return out

    def notes(self) -> list[str]:
        """The distinct notes of this case's tests, in order."""
        return list(dict.fromkeys(n for t in self.tests for n in t.notes))

    def present_groups(self) -> list[str]:
        """The capability groups this case has tests in, in report order."""
        seen = {t.group for t in self.tests}
        return [g for g in GROUP_ORDER if g in seen] + sorted(seen - set(GROUP_ORDER))


def _reason(report: pytest.TestReport) -> str | None:
    if hasattr(report, "wasxfail"):
        return str(report.wasxfail) or None
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return None


class Collector:
    """A pytest plugin object recording an outcome per test, keyed by case id."""

    def __init__(self, on_progress: Callable[[TestOutcome], None] | None = None) -> None:
        self.outcomes: dict[str, TestOutcome] = {}
        self.totals: dict[str, int] = {}
        self.on_progress = on_progress
        self.collection_errors: list[str] = []

    @staticmethod
    def case_of(item: pytest.Item) -> str:
        """The case id of a collected suite test (its class name outside generated cases)."""
        cls = getattr(item, "cls", None)
        case = getattr(cls, "case", None)
        return str(getattr(case, "id", None) or (cls.__name__ if cls else item.nodeid))

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            case = self.case_of(item)
            self.totals[case] = self.totals.get(case, 0) + 1
            self.outcomes[item.nodeid] = TestOutcome(case, item.name, group_of(item), outcome="pending")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {report.longreprtext}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        t = self.outcomes.get(report.nodeid)
        if t is None:
            return
        for key, value in report.user_properties:
            if key == "blockyard_backend":
                t.backend = str(value)
            elif key == "blockyard_note" and str(value) not in t.notes:
                t.notes.append(str(value))
            elif key == RELIABILITY_PROPERTY and isinstance(value, dict) and value not in t.reliability:
                t.reliability.append(dict(value))
        t.duration_s += report.duration
        if report.when == "call" or (report.when == "setup" and not report.passed):
            if hasattr(report, "wasxfail") and report.skipped:
                t.outcome = "xfailed"
            else:
                t.outcome = report.outcome
            t.reason = _reason(report)
            if report.failed:
                t.details = self._details(report)
        elif report.when == "teardown" and report.failed:
            t.outcome = "failed"
            t.details = (t.details or "") + self._details(report)
        if report.when == "teardown" and self.on_progress is not None:
            self.on_progress(t)

    @staticmethod
    def _details(report: pytest.TestReport) -> str:
        text = report.longreprtext
        for title, content in report.sections:
            if "log tail" in title:
                text += f"\n--- {title} ---\n{content}"
        return text


def fold(case: str, component: str, backend: str, outcomes: list[TestOutcome]) -> CaseResult:
    """Aggregate the outcomes of one case's tests into its result."""
    result = CaseResult(case, component, backend, "passed", tests=outcomes)
    for t in outcomes:
        if t.outcome == "passed":
            result.passed += 1
        elif t.outcome == "failed":
            result.failed += 1
        elif t.outcome == "xfailed":
            result.xfailed += 1
        else:
            result.skipped += 1
        result.duration_s += t.duration_s
    flavours = {t.backend for t in outcomes if t.backend}
    if flavours:
        result.backend = sorted(flavours)[0]
    if result.failed:
        result.status = "failed"
    elif outcomes and all(t.outcome == "skipped" and (t.reason or "").startswith(NOT_RUN) for t in outcomes):
        result.status = "not-run"
        result.reason = (outcomes[0].reason or "").removeprefix(NOT_RUN)
    result.duration_s = round(result.duration_s, 3)
    return result

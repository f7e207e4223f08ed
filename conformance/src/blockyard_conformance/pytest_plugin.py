"""The kit's pytest plugin (entry point ``pytest11``), active wherever the kit is installed.

- registers the kit's markers;
- applies a case's known limits: a matching test is skipped (emulator limit) or strictly
  xfailed (known defect) with the case's reason;
- refuses (usage error) a suite subclass that overrides a suite test without a ``skip`` with a
  reason or a strict ``xfail`` with a reason, so nothing is silently passed;
- adds the backend's log tail to the report of a failing test;
- shows the model test's seed in the header (``BLOCKYARD_MODEL_SEED`` replays a run);
- makes suite tests async-capable in any project: each ``async def`` test of a suite subclass is
  marked for pytest-asyncio, so no ``asyncio_mode = "auto"`` is needed;
- prints the suites' notes (e.g. which of two honest answers a component gave) after the run;
- gives the ``backend(name)`` marker its meaning: the backend is brought up before the test's
  fixtures run, through :func:`~blockyard_conformance.real_backends.require_backend` (a start that
  failed is a failure; a backend this machine lacks is "not run", or a failure with
  ``--require-backends`` / ``BLOCKYARD_REQUIRE_BACKENDS=1``); the fixture ``backend_endpoint``
  returns the endpoint of the first marked backend;
- ends every run with one line: how many tests ran against a real backend, which were missing.
"""

from __future__ import annotations

import inspect
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from blockyard_conformance import real_backends
from blockyard_conformance.marks import FEATURE_MARK, GROUP_MARK
from blockyard_conformance.real_backends import BACKEND_MARK, backends_of, backends_to_bring_up, require_backend

if TYPE_CHECKING:
    from blockyard_conformance.backends.recipe import Endpoint

__all__ = ["NotesReporter", "backend_endpoint", "override_problem"]

_KIT_PREFIX = "blockyard_conformance."


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("blockyard").addoption(
        "--require-backends",
        action="store_true",
        default=False,
        help="a real backend that cannot be had fails the test instead of skipping it "
        f"(also: {real_backends.REQUIRE_ENV}=1)",
    )


def pytest_configure(config: pytest.Config) -> None:
    real_backends.reset(bool(config.getoption("require_backends", default=False)))
    config.addinivalue_line(
        "markers",
        f"{BACKEND_MARK}(name): needs the named real backend; the launcher provides it, or the test is not run "
        "(a failure when backends are required or the start failed)",
    )
    config.addinivalue_line("markers", f"{GROUP_MARK}(name): capability group of a conformance test")
    config.addinivalue_line("markers", f"{FEATURE_MARK}(*names): features a conformance test needs")


def pytest_report_header(config: pytest.Config) -> str:
    from blockyard_conformance.state_model import SEED_ENV, model_seed

    return f"blockyard model seed: {model_seed()} (replay with {SEED_ENV}={model_seed()})"


def pytest_unconfigure(config: pytest.Config) -> None:
    real_backends.restore()


def _is_suite(cls: Any) -> bool:
    if not isinstance(cls, type):
        return False
    from blockyard_conformance.base_suite import ComponentSuite

    return issubclass(cls, ComponentSuite)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Mark a suite's coroutine tests ``asyncio`` before pytest-asyncio looks at them (strict mode)."""
    if not isinstance(collector, pytest.Class) or not _is_suite(collector.obj):
        return
    if not inspect.iscoroutinefunction(obj) or not collector.funcnamefilter(name):
        return
    if not any(m.name == "asyncio" for m in getattr(obj, "pytestmark", ())):
        pytest.mark.asyncio(obj)


class NotesReporter:
    """Prints the suites' notes after the run, once per suite class and note (a plugin of its own)."""

    @staticmethod
    def pytest_terminal_summary(terminalreporter: Any) -> None:
        from blockyard_conformance.base_suite import NOTE_PROPERTY

        seen: dict[tuple[str, str], None] = {}
        for reports in terminalreporter.stats.values():
            for report in reports:
                for key, value in getattr(report, "user_properties", ()):
                    if key == NOTE_PROPERTY:
                        parts = str(getattr(report, "nodeid", "")).split("::")
                        seen[(parts[-2] if len(parts) > 2 else parts[0], str(value))] = None
        if seen:
            terminalreporter.section("blockyard conformance notes")
            for where, note in seen:
                terminalreporter.write_line(f"{where}: {note}")


def pytest_sessionstart(session: pytest.Session) -> None:
    manager = session.config.pluginmanager
    if not manager.has_plugin("blockyard-notes"):
        manager.register(NotesReporter(), "blockyard-notes")


def override_problem(cls: type, name: str) -> str | None:
    """Why the override of suite test ``name`` in ``cls`` is refused, or ``None`` when it is fine."""
    definer = next((k for k in cls.__mro__ if name in vars(k)), None)
    if definer is None or definer.__module__.startswith(_KIT_PREFIX):
        return None
    if not any(k.__module__.startswith(_KIT_PREFIX) and name in vars(k) for k in cls.__mro__):
        return None
    fn = vars(definer)[name]
    for mark in getattr(fn, "pytestmark", []):
        reason = mark.kwargs.get("reason") or (mark.args[0] if mark.args and isinstance(mark.args[0], str) else "")
        if mark.name == "skip" and reason:
            return None
        if mark.name == "xfail" and mark.kwargs.get("strict") is True and reason:
            return None
    return (
        f"{definer.__module__}.{definer.__qualname__}.{name} overrides a conformance test without "
        "@pytest.mark.skip(reason=...) or @pytest.mark.xfail(strict=True, reason=...)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problems: list[str] = []
    for item in items:
        cls = getattr(item, "cls", None)
        if not _is_suite(cls):
            continue
        assert cls is not None
        case = getattr(cls, "case", None)
        needed = case.backend if case is not None else getattr(cls, "backend", None)
        if isinstance(needed, str) and needed and needed not in backends_of(item):
            item.add_marker(getattr(pytest.mark, BACKEND_MARK)(needed))
        name = getattr(item, "originalname", None) or item.name
        problem = override_problem(cls, name)
        if problem is not None and problem not in problems:
            problems.append(problem)
        for limit in getattr(cls, "blockyard_limits", ()):
            if limit.matches(name) or limit.matches(item.name):
                if limit.skip is not None:
                    item.add_marker(pytest.mark.skip(reason=f"known limit: {limit.skip}"))
                else:
                    item.add_marker(pytest.mark.xfail(strict=True, reason=f"known defect: {limit.xfail}"))
    if problems:
        raise pytest.UsageError("refusing to run:\n  " + "\n  ".join(problems))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for name in backends_to_bring_up(item):
        require_backend(name)


@pytest.fixture
def backend_endpoint(request: pytest.FixtureRequest) -> Endpoint:
    """The endpoint of the test's first ``backend(name)`` marker (a usage error without one)."""
    names = backends_to_bring_up(request.node)
    if not names:
        raise pytest.UsageError(f"{request.node.nodeid} uses backend_endpoint without a backend(name) marker")
    return require_backend(names[0])


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.outcome in ("passed", "failed"):
        found = real_backends.tally()
        names = getattr(report, "blockyard_backends", ())
        found.tests += bool(names)
        for name in names:
            found.ran[name] = found.ran.get(name, 0) + 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    found = real_backends.tally()
    terminalreporter.write_sep("-", "blockyard")
    terminalreporter.write_line(found.summary())
    for name, why in sorted(found.missing.items()):
        terminalreporter.write_line(f"  not run: {name}: {why}")
    for name, why in sorted(found.failed_to_start.items()):
        terminalreporter.write_line(f"  FAILED to start: {name}: {why.splitlines()[0] if why else ''}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, Any]:
    report = yield
    report.blockyard_backends = backends_of(item)
    if report.failed:
        backend = getattr(getattr(item, "cls", None), "backend", None)
        if isinstance(backend, str) and backend:
            try:
                from blockyard_conformance.backends.launcher import get_launcher

                tail = get_launcher().log_tail(backend)
            except Exception as exc:  # a report must not fail because the log is unreadable
                tail = f"(log tail unavailable: {type(exc).__name__})"
            report.sections.append((f"backend {backend} log tail", tail or "(empty)"))
    return report

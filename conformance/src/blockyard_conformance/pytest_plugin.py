"""The kit's pytest plugin (entry point ``pytest11``), active wherever the kit is installed.

- registers the kit's markers;
- applies a case's known limits: a matching test is skipped (emulator limit) or strictly
  xfailed (known defect) with the case's reason;
- refuses (usage error) a suite subclass that overrides a suite test without a ``skip`` with a
  reason or a strict ``xfail`` with a reason, so nothing is silently passed;
- adds the backend's log tail to the report of a failing test;
- shows the model test's seed in the header (``BLOCKYARD_MODEL_SEED`` replays a run).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from blockyard_conformance.marks import FEATURE_MARK, GROUP_MARK

__all__ = ["override_problem"]

_KIT_PREFIX = "blockyard_conformance."


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{GROUP_MARK}(name): capability group of a conformance test")
    config.addinivalue_line("markers", f"{FEATURE_MARK}(*names): features a conformance test needs")


def pytest_report_header(config: pytest.Config) -> str:
    from blockyard_conformance.state_model import SEED_ENV, model_seed

    return f"blockyard model seed: {model_seed()} (replay with {SEED_ENV}={model_seed()})"


def _is_suite(cls: type | None) -> bool:
    if cls is None:
        return False
    from blockyard_conformance.base_suite import ComponentSuite

    return issubclass(cls, ComponentSuite)


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, Any]:
    report = yield
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

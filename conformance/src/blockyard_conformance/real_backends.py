"""Real backends in tests: one rule for "not run" versus "failed", and the tally behind the summary.

A test that needs a real server gets it from :func:`require_backend` (or the ``backend(name)``
marker, which calls it before the test's fixtures run). The outcome is decided here, once:

- the backend is found or started -> its :class:`~blockyard_conformance.backends.recipe.Endpoint`;
- it should have worked here but did not (crashed on start, failed its seeding,
  ``BLOCKYARD_<NAME>_URL`` does not answer: :class:`BackendStartError`) -> the test **fails**;
- it cannot be had on this machine (server or client library not installed) -> the test is
  skipped as ``not run: ...`` with the command that enables it, unless backends are *required*
  (``pytest --require-backends`` or ``BLOCKYARD_REQUIRE_BACKENDS=1``), where it fails too.

Example, in a plugin's ``conftest.py``::

    @pytest.fixture(scope="session")
    def redis_endpoint():
        return require_backend("redis")

    # or per test / module: pytestmark = pytest.mark.backend("redis"), then the fixture
    # ``backend_endpoint`` returns the endpoint of the (first) marked backend.

Fault tests restart their server: :func:`own_backend` gives them one the launcher starts on a port
of its own, under a private state folder, whatever already listens on the standard port.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from blockyard_conformance.marks import NOT_RUN

if TYPE_CHECKING:
    from blockyard_conformance.backends.launcher import Launcher
    from blockyard_conformance.backends.recipe import Endpoint

__all__ = [
    "BACKEND_MARK",
    "REQUIRE_ENV",
    "Tally",
    "backends_of",
    "backends_to_bring_up",
    "mark_backend_fixtures",
    "not_run",
    "own_backend",
    "require_backend",
    "require_client",
    "required",
    "set_required",
    "tally",
]

REQUIRE_ENV = "BLOCKYARD_REQUIRE_BACKENDS"
"""Set to ``1`` to make a backend that cannot be had a failure instead of a skip."""

BACKEND_MARK = "backend"
"""``@pytest.mark.backend("redis")``: the test needs that real backend (repeatable). With ``own=True``
the test starts its server itself (a fault or launcher test): it is counted, nothing is brought up."""

_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass
class Tally:
    """What one pytest run saw: tests that ran against a real backend, and backends it lacked."""

    tests: int = 0
    """Tests that ran (passed or failed) against at least one real backend."""
    ran: dict[str, int] = field(default_factory=dict)
    """backend -> tests that ran (passed or failed) against it."""
    missing: dict[str, str] = field(default_factory=dict)
    """backend -> why it was not run, with the command that enables it."""
    failed_to_start: dict[str, str] = field(default_factory=dict)
    """backend -> why it did not start although it should have."""

    def summary(self) -> str:
        """One line: how many real-backend tests ran, and which backends were missing."""
        total = self.tests
        used = ", ".join(f"{name} {count}" for name, count in sorted(self.ran.items())) or "none"
        parts = [f"real backends: {total} test(s) ran against a real server ({used})"]
        parts.append(f"missing: {', '.join(sorted(self.missing)) or 'none'}")
        if self.failed_to_start:
            parts.append(f"failed to start: {', '.join(sorted(self.failed_to_start))}")
        return "; ".join(parts)


_state = {"required": False}
_tally = Tally()
_outer: list[tuple[Tally, bool]] = []


def tally() -> Tally:
    """The tally of the current pytest run."""
    return _tally


def reset(required_: bool) -> None:
    """Start a new run (the pytest plugin's configure); an enclosing run's tally is kept for :func:`restore`."""
    global _tally
    _outer.append((_tally, _state["required"]))
    _tally = Tally()
    set_required(required_)


def restore() -> None:
    """End a run (the pytest plugin's unconfigure): an enclosing in-process run gets its tally back."""
    global _tally
    if _outer:
        _tally, was_required = _outer.pop()
        set_required(was_required)


def required() -> bool:
    """True when a backend that cannot be had fails the test (instead of skipping it)."""
    return _state["required"] or os.environ.get(REQUIRE_ENV, "").strip().lower() in _TRUE


def set_required(value: bool) -> None:
    """Turn "backends are required" on or off for this process."""
    _state["required"] = value


def not_run(backend: str, reason: str, enable: str) -> NoReturn:
    """Skip the calling test as *not run* (reason + enabling command); fail it when backends are required."""
    detail = f"backend {backend} is unavailable: {reason}; enable with: {enable}"
    _tally.missing.setdefault(backend, f"{reason} (enable with: {enable})")
    if required():
        pytest.fail(f"{detail} (backends are required: --require-backends / {REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(f"{NOT_RUN}{detail}")


def require_backend(name: str, launcher: Launcher | None = None) -> Endpoint:
    """The endpoint of backend ``name``, found or started by ``launcher`` (default: the shared one).

    Fails the calling test when the backend should have started but did not, or when backends are
    required; otherwise skips it as ``not run`` with the reason and the enabling command.
    """
    from blockyard_conformance.backends.launcher import BackendStartError, get_launcher
    from blockyard_conformance.backends.recipe import BackendUnavailable

    try:
        return (launcher or get_launcher()).up(name)
    except BackendStartError as exc:
        _tally.failed_to_start.setdefault(name, exc.reason)
        pytest.fail(f"backend {name} did not start: {exc.reason} ({exc.enable_command})", pytrace=False)
    except BackendUnavailable as exc:
        not_run(name, exc.reason, exc.enable_command)


def require_client(module: str, backend: str) -> None:
    """Skip (or, when backends are required, fail) the calling test when ``module`` is missing."""
    from blockyard_conformance.backends.launcher import MISSING_EXTRA_COMMAND

    if importlib.util.find_spec(module.split(".")[0]) is None:
        not_run(backend, f"the Python client library {module} is not installed", MISSING_EXTRA_COMMAND)


@contextlib.contextmanager
def own_backend(name: str) -> Iterator[tuple[Launcher, Endpoint]]:
    """A backend that a private launcher starts natively on a port of its own; stopped afterwards.

    For tests that restart or break their server: they never touch one found through the
    environment or on the standard port. Yields the launcher (for ``restart``) and the endpoint;
    unavailable / failed starts are handled as in :func:`require_backend`.
    """
    from blockyard_conformance.backends.launcher import BackendStartError, Launcher
    from blockyard_conformance.backends.recipe import BackendUnavailable

    with tempfile.TemporaryDirectory(prefix=f"blockyard-own-{name}-") as folder:
        launcher = Launcher(Path(folder), use_docker=False)
        try:
            endpoint = launcher.up(name, reuse=False)
        except BackendStartError as exc:
            _tally.failed_to_start.setdefault(name, exc.reason)
            pytest.fail(f"backend {name} did not start: {exc.reason} ({exc.enable_command})", pytrace=False)
        except BackendUnavailable as exc:
            not_run(name, exc.reason, exc.enable_command)
        try:
            yield launcher, endpoint
        finally:
            launcher.down(name)


def backends_of(item: pytest.Item) -> list[str]:
    """The backends a test is marked with (``backend(name)``), in marking order, without repeats."""
    names: list[str] = []
    for mark in item.iter_markers(BACKEND_MARK):
        for name in mark.args:
            if isinstance(name, str) and name not in names:
                names.append(name)
    return names


def backends_to_bring_up(item: pytest.Item) -> list[str]:
    """The marked backends the kit brings up before the test (those not marked ``own=True``)."""
    names: list[str] = []
    for mark in item.iter_markers(BACKEND_MARK):
        if mark.kwargs.get("own"):
            continue
        names += [n for n in mark.args if isinstance(n, str) and n not in names]
    return names


def mark_backend_fixtures(items: list[pytest.Item], **fixtures: str) -> None:
    """Mark every test that uses one of ``fixtures`` (fixture name -> backend) with ``backend(name)``.

    For a ``conftest.py``'s ``pytest_collection_modifyitems``: the tests that reach a real server
    through a fixture are counted, and decided (not run / failed) before they start.
    """
    for item in items:
        used = getattr(item, "fixturenames", ())
        for fixture, backend in fixtures.items():
            if fixture in used and backend not in backends_of(item):
                item.add_marker(getattr(pytest.mark, BACKEND_MARK)(backend))

"""What a run reports about real backends, and the launcher's promises to projects and plugins.

- a backend that should have started but did not fails the test; one the machine lacks is
  *not run*, or a failure with ``--require-backends`` / ``BLOCKYARD_REQUIRE_BACKENDS=1``;
- every run ends with one line counting real-backend tests and naming missing backends;
- a plugin's ``blockyard_backend_recipes`` adds a backend that ``backends up`` starts;
- a missing client library names the ``[backends]`` extra;
- a start that fails half-way leaves no process behind; the process is on record before readiness;
- two projects' launchers (per-project state) never see or stop each other's servers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, ClassVar

import click
import pytest
from click.testing import CliRunner

from blockyard.hookspecs import hookimpl
from blockyard.registry import get_registry
from blockyard_conformance import real_backends
from blockyard_conformance.backends import procs
from blockyard_conformance.backends.cli import backends
from blockyard_conformance.backends.launcher import Launcher
from blockyard_conformance.backends.recipe import (
    LOOPBACK,
    BackendUnavailable,
    Endpoint,
    NativeRecipe,
    port_open,
    spawn,
)

SERVER = (
    "import http.server, sys; "
    "http.server.test(http.server.SimpleHTTPRequestHandler, port=int(sys.argv[1]), bind='127.0.0.1')"
)


class ToyRecipe(NativeRecipe):
    """A plugin's backend: Python's own HTTP server on a free loopback port."""

    backend: ClassVar[str] = "toy-http"
    default_port: ClassVar[int] = 0
    startup_timeout: ClassVar[float] = 60.0
    install_hint: ClassVar[str] = "nothing to install"

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return spawn([sys.executable, "-c", SERVER, str(port)], log, cwd=workdir)

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        return Endpoint(self.backend, "toy http (native)", LOOPBACK, port, f"http://{LOOPBACK}:{port}", "native")

    def ready(self, endpoint: Endpoint) -> bool:
        return port_open(endpoint.port)


class NoClientRecipe(ToyRecipe):
    backend: ClassVar[str] = "toy-no-client"
    client_modules: ClassVar[tuple[str, ...]] = ("blockyard_no_such_client_library",)


class CrashingRecipe(ToyRecipe):
    """Starts a server, then its readiness probe dies (as a crash or Ctrl-C of the CLI would)."""

    backend: ClassVar[str] = "toy-crash"
    seen_state: ClassVar[list[dict[str, Any]]] = []

    def ready(self, endpoint: Endpoint) -> bool:
        state_file = Path(os.environ["BLOCKYARD_STATE_DIR"]) / self.backend / "state.json"
        CrashingRecipe.seen_state.append(json.loads(state_file.read_text()))
        raise KeyboardInterrupt


class ToyPlugin:
    @hookimpl
    def blockyard_backend_recipes(self) -> list[Any]:
        return [ToyRecipe, NoClientRecipe, CrashingRecipe]


@pytest.fixture
def toy_plugin() -> Iterator[None]:
    manager = get_registry().plugin_manager
    plugin = ToyPlugin()
    manager.register(plugin, name="toy-plugin")
    try:
        yield
    finally:
        manager.unregister(plugin)


# -- plugins bring backends -------------------------------------------------------------------


def test_plugin_recipe_is_started_by_backends_up(toy_plugin: None, state_dir: Path) -> None:
    launcher = Launcher(state_dir, use_docker=False)
    assert "toy-http" in launcher.known()
    result = CliRunner().invoke(backends, ["up", "toy-http"])
    assert result.exit_code == 0, result.output
    assert "ready" in result.output
    try:
        (row,) = launcher.status("toy-http")
        assert (row.state, row.source) == ("ready", "native")
        assert row.pid is not None
        assert procs.is_alive(row.pid)
    finally:
        assert launcher.down("toy-http") == ["toy-http"]
    assert procs.group_members(row.pid) == []


def test_plugin_cannot_replace_a_builtin_backend() -> None:
    class FakeRedis(ToyRecipe):
        backend: ClassVar[str] = "redis"

    class Plugin:
        @hookimpl
        def blockyard_backend_recipes(self) -> list[Any]:
            return [FakeRedis]

    manager = get_registry().plugin_manager
    plugin = Plugin()
    manager.register(plugin, name="fake-redis-plugin")
    try:
        recipe = Launcher(use_docker=False).recipe("redis")
        assert not isinstance(recipe, FakeRedis)
    finally:
        manager.unregister(plugin)


def test_missing_client_library_names_the_extra(toy_plugin: None, launcher: Launcher) -> None:
    with pytest.raises(BackendUnavailable) as info:
        launcher.up("toy-no-client")
    assert "blockyard_no_such_client_library" in info.value.reason
    assert info.value.enable_command == "pip install 'blockyard-conformance[backends]'"
    (row,) = launcher.status("toy-no-client")
    assert row.state == "unavailable"


def test_a_start_that_dies_half_way_leaves_no_process(toy_plugin: None, launcher: Launcher, state_dir: Path) -> None:
    CrashingRecipe.seen_state.clear()
    with pytest.raises(KeyboardInterrupt):
        launcher.up("toy-crash")
    (recorded,) = CrashingRecipe.seen_state[:1]
    pid = int(recorded["pid"])  # on record before the first readiness probe
    assert procs.group_members(pid) == [], "the half-started server is still running"
    assert not (state_dir / "toy-crash" / "state.json").exists()


# -- per-project state ------------------------------------------------------------------------


def test_two_projects_launchers_do_not_touch_each_other(
    toy_plugin: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BLOCKYARD_STATE_DIR", raising=False)
    monkeypatch.setenv("BLOCKYARD_CACHE_DIR", str(tmp_path / "cache"))
    projects = {}
    for name in ("alpha", "beta"):
        folder = tmp_path / name
        (folder / "src").mkdir(parents=True)
        (folder / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n')
        projects[name] = folder
    monkeypatch.chdir(projects["alpha"] / "src")  # a sub-folder of the project: same state
    alpha = Launcher(use_docker=False)
    alpha_ep = alpha.up("toy-http")
    (alpha_row,) = alpha.status("toy-http")
    try:
        monkeypatch.chdir(projects["beta"])
        beta = Launcher(use_docker=False)
        (unseen,) = beta.status("toy-http")
        assert unseen.state == "not running", "beta must not see alpha's server"
        beta_ep = beta.up("toy-http")
        assert beta_ep.port != alpha_ep.port
        assert beta.down() == ["toy-http"]
        assert procs.is_alive(alpha_row.pid or 0), "beta's down stopped alpha's server"
        assert port_open(alpha_ep.port)
        monkeypatch.chdir(projects["alpha"])
        (again,) = Launcher(use_docker=False).status("toy-http")
        assert (again.state, again.pid) == ("ready", alpha_row.pid)
    finally:
        monkeypatch.chdir(projects["alpha"])
        Launcher(use_docker=False).down()
    assert procs.group_members(alpha_row.pid or 0) == []


# -- what a pytest run reports ----------------------------------------------------------------

TESTS = textwrap.dedent(
    """
    import pytest

    @pytest.mark.backend("http-echo")
    def test_echo(backend_endpoint):
        assert backend_endpoint.port > 0

    @pytest.mark.backend("redis")
    def test_redis():
        pass

    def test_plain():
        pass
    """
)


def run_pytest(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    full = {k: v for k, v in os.environ.items() if not k.startswith("BLOCKYARD_")}
    full.update({"BLOCKYARD_STATE_DIR": str(tmp_path / "state"), "BLOCKYARD_USE_DOCKER": "0", **env})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *args, str(tmp_path / "test_sample.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=full,
        timeout=300,
        check=False,
    )


@pytest.fixture
def no_redis_here(tmp_path: Path) -> dict[str, str]:
    """An environment where Redis cannot be had: no redis-server on PATH, nothing on its port."""
    if port_open(6379):
        pytest.skip("a Redis answers on 6379 here, so it cannot be missing")
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    return {"PATH": str(empty)}


def test_missing_backend_is_not_run_and_named_in_the_summary(tmp_path: Path, no_redis_here: dict[str, str]) -> None:
    result = run_pytest(tmp_path, no_redis_here)
    out = result.stdout
    try:
        assert result.returncode == 0, out
        assert "2 passed, 1 skipped" in out
        assert "not run: backend redis is unavailable: redis-server is not installed" in out
        assert "enable with: blockyard backends install redis" in out
        assert "real backends: 1 test(s) ran against a real server (http-echo 1); missing: redis" in out
    finally:
        down = [sys.executable, "-m", "blockyard_conformance.backends", "down"]
        state = {**os.environ, "BLOCKYARD_STATE_DIR": str(tmp_path / "state")}
        subprocess.run(down, env=state, check=False, capture_output=True)


@pytest.mark.parametrize("how", ["option", "environment"])
def test_required_backends_turn_a_missing_one_into_a_failure(
    tmp_path: Path, no_redis_here: dict[str, str], how: str
) -> None:
    env = dict(no_redis_here)
    args: tuple[str, ...] = ("--require-backends",) if how == "option" else ()
    if how == "environment":
        env["BLOCKYARD_REQUIRE_BACKENDS"] = "1"
    result = run_pytest(tmp_path, env, "-k", "redis", *args)
    assert result.returncode == 1, result.stdout
    assert "1 error" in result.stdout  # decided in set-up, before the test's own fixtures
    assert "backends are required" in result.stdout
    assert "missing: redis" in result.stdout


def test_backend_that_does_not_start_is_a_failure_not_a_skip(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, {"BLOCKYARD_REDIS_URL": "redis://127.0.0.1:1"}, "-k", "redis")
    assert result.returncode == 1, result.stdout
    assert "1 error" in result.stdout
    assert "skipped" not in result.stdout.splitlines()[-1]
    assert "backend redis did not start: BLOCKYARD_REDIS_URL is set but 127.0.0.1:1 does not answer" in result.stdout
    assert "failed to start: redis" in result.stdout


# -- the CI matrix ----------------------------------------------------------------------------


class _Case:
    def __init__(self, case_id: str, backend: str | None) -> None:
        self.id, self.backend = case_id, backend


def test_matrix_is_never_an_empty_include() -> None:
    from blockyard_conformance.cli import github_matrix

    only_embedded = [_Case("state.mine", None)]
    assert github_matrix(only_embedded) == {"include": [{"case": "state.mine", "backend": "embedded"}]}
    with pytest.raises(click.UsageError, match="no conformance case matched"):
        github_matrix([])


def test_required_backends_fail_a_conformance_case_instead_of_not_running_it(
    toy_plugin: None, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blockyard_conformance.cases import parse_cases
    from blockyard_conformance.runner import preflight

    component = (
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: s}\n"
        "spec: {type: state.in-memory, version: v1}\n"
    )
    (case,) = parse_cases({"cases": [{"id": "x", "backend": "toy-no-client", "component": component}]})
    monkeypatch.delenv("BLOCKYARD_REQUIRE_BACKENDS", raising=False)  # this very run may require backends
    monkeypatch.setattr(real_backends, "_state", {"required": False})
    result = preflight(case)
    assert result is not None
    assert result.status == "not-run"
    monkeypatch.setenv("BLOCKYARD_REQUIRE_BACKENDS", "1")
    result = preflight(case)
    assert result is not None
    assert result.status == "failed"
    assert "blockyard_no_such_client_library" in (result.reason or "")


def test_an_inner_pytest_run_keeps_the_outer_runs_tally() -> None:
    outer = real_backends.tally()
    before = outer.tests
    outer.tests += 1
    real_backends.reset(False)  # what an in-process pytest.main (the conformance runner) does
    assert real_backends.tally() is not outer
    real_backends.restore()
    assert real_backends.tally() is outer
    assert outer.tests == before + 1
    outer.tests = before

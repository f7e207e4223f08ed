"""The backend launcher against real processes (Redis from Debian's redis-server).

Covers the resolution order (environment, already listening, native), the lifecycle
(up -> status -> down leaves no process; up is idempotent; restart keeps the port),
ownership (restart and down never touch a server the launcher did not start), log
tails, and ``BackendUnavailable`` carrying the command that would enable a backend.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from blockyard_conformance.backends import procs
from blockyard_conformance.backends.launcher import BackendStartError, Launcher, NotOwnedError
from blockyard_conformance.backends.recipe import BackendUnavailable, Endpoint, port_open, which
from blockyard_conformance.real_backends import not_run

pytestmark = pytest.mark.backend("redis", own=True)


@pytest.fixture(autouse=True)
def _needs_redis_server() -> None:
    """Not run (a failure when backends are required) on a machine without redis-server."""
    if which("redis-server") is None:
        not_run("redis", "redis-server is not installed", "blockyard backends install redis")


STANDARD_REDIS_PORT = 6379
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def redis_roundtrip(endpoint: Endpoint) -> bytes | None:
    client = redis.Redis(host=endpoint.host, port=endpoint.port, password=endpoint.params.get("password"))
    try:
        client.set("blockyard:probe", b"ok")
        value = client.get("blockyard:probe")
        return value if isinstance(value, bytes) else None
    finally:
        client.close()


def pid_of(launcher: Launcher, name: str) -> int:
    (row,) = launcher.status(name)
    assert row.pid is not None
    return row.pid


@pytest.fixture
def foreign_redis(tmp_path: Path) -> Iterator[int]:
    """A redis-server this launcher did not start, on the standard port 6379."""
    if port_open(STANDARD_REDIS_PORT):
        pytest.skip("port 6379 is already in use on this machine")
    binary = which("redis-server")
    assert binary is not None
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(STANDARD_REDIS_PORT), "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while not port_open(STANDARD_REDIS_PORT) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


# -- lifecycle ------------------------------------------------------------------------------


def test_up_status_down_leaves_no_process(launcher: Launcher, state_dir: Path) -> None:
    endpoint = launcher.up("redis")
    assert endpoint.source == "native"
    assert endpoint.host == "127.0.0.1"
    assert endpoint.port != STANDARD_REDIS_PORT or not port_open(STANDARD_REDIS_PORT)
    assert endpoint.flavour.startswith("redis ")
    assert "(native)" in endpoint.flavour
    assert redis_roundtrip(endpoint) == b"ok"

    (row,) = launcher.status("redis")
    assert (row.state, row.source, row.address) == ("ready", "native", endpoint.address)
    assert row.pid is not None
    assert procs.is_alive(row.pid)
    assert row.rss_bytes
    assert row.rss_bytes > 1_000_000

    state_file = state_dir / "redis" / "state.json"
    assert state_file.stat().st_mode & 0o777 == 0o600

    assert launcher.down("redis") == ["redis"]
    assert not procs.is_alive(row.pid)
    assert procs.group_members(row.pid) == []
    assert not port_open(endpoint.port)
    assert not state_file.exists()
    (after,) = launcher.status("redis")
    assert after.state == "not running"


def test_up_twice_returns_the_running_server(launcher: Launcher) -> None:
    first = launcher.up("redis")
    pid = pid_of(launcher, "redis")
    second = Launcher(launcher._state_dir, use_docker=False).up("redis")  # another process's view
    assert second.port == first.port
    assert pid_of(launcher, "redis") == pid


def test_restart_keeps_port_and_serves_again(launcher: Launcher) -> None:
    endpoint = launcher.up("redis")
    old_pid = pid_of(launcher, "redis")
    restarted = launcher.restart("redis")
    assert restarted.port == endpoint.port
    new_pid = pid_of(launcher, "redis")
    assert new_pid != old_pid
    assert not procs.is_alive(old_pid)
    assert redis_roundtrip(restarted) == b"ok"


def test_log_tail_shows_the_server_log(launcher: Launcher) -> None:
    launcher.up("redis")
    tail = launcher.log_tail("redis", lines=40)
    assert "Ready to accept connections" in tail
    assert len(launcher.log_tail("redis", lines=2).splitlines()) == 2


def test_redis_auth_requires_its_password_and_hides_it(launcher: Launcher) -> None:
    endpoint = launcher.up("redis-auth")
    password = endpoint.params["password"]
    assert len(password) >= 16
    assert password not in repr(endpoint)
    assert password not in " ".join(procs.cmdline(pid_of(launcher, "redis-auth")) or [])
    assert password not in launcher.log_tail("redis-auth", 200)
    anonymous = redis.Redis(host=endpoint.host, port=endpoint.port, retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    anonymous.close()
    assert redis_roundtrip(endpoint) == b"ok"


@pytest.mark.slow
def test_cli_up_survives_the_cli_process(state_dir: Path) -> None:
    run = [sys.executable, "-m", "blockyard_conformance.backends"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "conformance" / "src"), "COLUMNS": "200"}
    up = subprocess.run([*run, "up", "redis"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "ready" in up.stdout
    status = subprocess.run([*run, "status", "redis"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert "ready" in status.stdout
    assert "native" in status.stdout
    pid = Launcher(state_dir, use_docker=False).status("redis")[0].pid
    assert pid is not None
    assert procs.is_alive(pid)
    logs = subprocess.run([*run, "logs", "redis"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert "Ready to accept connections" in logs.stdout
    down = subprocess.run([*run, "down", "redis"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert down.returncode == 0
    assert "redis" in down.stdout
    assert not procs.is_alive(pid)


# -- resolution order -----------------------------------------------------------------------


def test_environment_address_wins_and_is_never_stopped(
    launcher: Launcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = Launcher(tmp_path / "other-state", use_docker=False)
    try:
        served = owner.up("redis")
        server_pid = pid_of(owner, "redis")
        monkeypatch.setenv("BLOCKYARD_REDIS_URL", f"redis://127.0.0.1:{served.port}")
        endpoint = launcher.up("redis")
        assert (endpoint.source, endpoint.port) == ("env", served.port)
        assert redis_roundtrip(endpoint) == b"ok"
        (row,) = launcher.status("redis")
        assert (row.state, row.source) == ("ready", "env")
        assert launcher.down("redis") == []
        with pytest.raises(NotOwnedError, match="not started by this launcher"):
            launcher.restart("redis")
        assert procs.is_alive(server_pid)
    finally:
        owner.down()


def test_environment_address_must_be_loopback(launcher: Launcher, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOCKYARD_REDIS_URL", "redis://10.1.2.3:6379")
    with pytest.raises(BackendUnavailable, match="not a loopback address") as info:
        launcher.up("redis")
    assert "127.0.0.1" in info.value.enable_command


def test_environment_address_that_does_not_answer_is_an_error(
    launcher: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blockyard_conformance.backends.recipe import free_port

    monkeypatch.setenv("BLOCKYARD_REDIS_URL", f"redis://127.0.0.1:{free_port()}")
    monkeypatch.setattr("blockyard_conformance.backends.launcher._ENV_READY_TIMEOUT", 0.5)
    with pytest.raises(BackendStartError, match="does not answer"):
        launcher.up("redis")


def test_listening_server_is_used_and_left_running(launcher: Launcher, foreign_redis: int) -> None:
    endpoint = launcher.up("redis")
    assert (endpoint.source, endpoint.port) == ("listening", STANDARD_REDIS_PORT)
    assert redis_roundtrip(endpoint) == b"ok"
    (row,) = launcher.status("redis")
    assert (row.state, row.source, row.pid) == ("ready", "listening", None)
    assert launcher.down() == []
    with pytest.raises(NotOwnedError, match="listening"):
        launcher.restart("redis")
    assert procs.is_alive(foreign_redis)


# -- unavailable backends -------------------------------------------------------------------


def test_restart_of_a_backend_that_is_not_running_is_refused(launcher: Launcher) -> None:
    with pytest.raises(NotOwnedError, match="not running"):
        launcher.restart("redis")


def test_unknown_backend_is_unavailable_with_a_hint(launcher: Launcher) -> None:
    with pytest.raises(BackendUnavailable) as info:
        launcher.up("no-such-backend")
    assert issubclass(BackendUnavailable, RuntimeError)
    assert "unknown backend" in info.value.reason
    assert "redis" in info.value.reason  # lists the known names
    assert info.value.enable_command
    (row,) = launcher.status("no-such-backend")
    assert row.state == "unavailable"


def test_uninstalled_backend_names_the_enable_command(
    launcher: Launcher, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if port_open(STANDARD_REDIS_PORT):
        pytest.skip("a redis answers on 6379 here")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(BackendUnavailable) as info:
        launcher.up("redis")
    assert not isinstance(info.value, BackendStartError)
    assert "redis-server is not installed" in info.value.reason
    command = info.value.enable_command
    assert "BLOCKYARD_REDIS_URL=" in command
    assert "docker compose -f" in command
    assert "redis.yml" in command
    assert "blockyard backends install redis" in command
    (row,) = launcher.status("redis")
    assert (row.state, row.enable_command) == ("unavailable", command)

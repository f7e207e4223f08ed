"""Find or start the real backends the conformance cases need, on 127.0.0.1 only.

Resolution order for ``up(name)``:

1. ``BLOCKYARD_<NAME>_URL`` (loopback only) -> used as given, source ``env``;
2. a server already listening on the backend's standard port and answering the real
   client -> source ``listening`` (``down`` never stops it);
3. ``docker compose -f compose/<name>.yml up -d --wait`` (shipped in this package) when
   ``docker info`` succeeds (``BLOCKYARD_USE_DOCKER=0`` turns this off) -> source ``docker``;
4. the native recipe on a free loopback port -> source ``native``.

``up(name, reuse=False)`` skips steps 1-3: a server of this launcher's own, on a port of its own.

Servers the launcher starts outlive the calling process. Their state is kept per project (see
:func:`.paths.state_root`) in ``<state>/<name>/`` (``state.json``, 0600, and ``server.log``),
written right after the spawn, before anything can fail; ``down`` stops only the process groups
recorded there, after checking the pid is still the recorded process (same start time). ``up``
of a backend that is already up returns its endpoint. A missing client library is reported as
unavailable with ``pip install 'blockyard-conformance[backends]'``.

Example::

    launcher = get_launcher()
    ep = launcher.up("redis")          # Endpoint(url="redis://127.0.0.1:40123", ...)
    launcher.restart("redis")          # fault injection: same port, empty server
    launcher.down("redis")
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import procs
from .native import known_backends, load_recipe
from .paths import compose_file, project_dir, state_root
from .recipe import (
    LOOPBACK,
    BackendUnavailable,
    Endpoint,
    NativeRecipe,
    env_name,
    port_open,
)

__all__ = [
    "MISSING_EXTRA_COMMAND",
    "BackendStartError",
    "BackendStatus",
    "Launcher",
    "NotOwnedError",
    "get_launcher",
]

MISSING_EXTRA_COMMAND = "pip install 'blockyard-conformance[backends]'"
"""What installs every client library the launcher probes backends with."""

_STATE_FILE = "state.json"
_LOG_FILE = "server.log"
_WORK_DIR = "work"
_ENV_READY_TIMEOUT = 10.0
_STOP_TIMEOUT = 15.0


class BackendStartError(BackendUnavailable):
    """A backend that should have started here did not (crashed, timed out, seed failed)."""


class NotOwnedError(RuntimeError):
    """The operation needs a backend this launcher started (``restart`` of an env/listening one)."""


@dataclass(frozen=True, slots=True)
class BackendStatus:
    """One row of ``status``: ``state`` is "ready", "not ready", "not running" or "unavailable"."""

    backend: str
    state: str
    source: str | None = None
    flavour: str | None = None
    address: str | None = None
    pid: int | None = None
    rss_bytes: int | None = None
    reason: str | None = None
    enable_command: str | None = None
    endpoint: Endpoint | None = field(default=None, repr=False)


class Launcher:
    """Brings backends up and down; safe to use from several threads for different backends."""

    def __init__(self, state_dir: Path | None = None, *, use_docker: bool | None = None) -> None:
        self._state_dir = state_dir
        self._use_docker = use_docker
        self._docker_ok: bool | None = None
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._children_lock = threading.Lock()

    # -- public API ---------------------------------------------------------------------

    @staticmethod
    def known() -> tuple[str, ...]:
        """Every backend name the launcher knows (built in, then the plugins'), in a stable order."""
        return known_backends()

    def up(self, name: str, *, reuse: bool = True) -> Endpoint:
        """Endpoint of a ready backend, found or started (see module docs for the order).

        ``reuse=False`` skips the environment, a listening server and Docker: the backend is one
        this launcher starts natively on a port of its own (for fault tests, which restart it).

        Raises :class:`BackendUnavailable` when none of the ways works here (its
        ``enable_command`` says what would), :class:`BackendStartError` when a start failed.
        """
        recipe = self._recipe(name)
        self._check_clients(recipe)
        from_env = self._from_env(recipe) if reuse else None
        if from_env is not None:
            if not self._wait_ready(recipe, from_env, _ENV_READY_TIMEOUT):
                var = f"BLOCKYARD_{env_name(name)}_URL"
                raise BackendStartError(
                    name,
                    f"{var} is set but {from_env.address} does not answer",
                    f"start the server at {from_env.address}, or unset {var}",
                )
            self._seed_quietly(recipe, from_env)
            return from_env
        with self._lock(name):
            owned = self._owned_endpoint(recipe)
            if owned is not None:
                return owned
            if reuse:
                listening = self._listening(recipe)
                if listening is not None:
                    self._seed_quietly(recipe, listening)
                    return listening
                compose = compose_file(name)
                if compose is not None and self._docker_available():
                    return self._compose_up(recipe, compose)
            reason = recipe.missing()
            if reason is not None:
                raise BackendUnavailable(name, reason, self._enable_command(recipe))
            return self._start_native(recipe, port=recipe.pick_port(), fresh=True)

    def down(self, name: str | None = None) -> list[str]:
        """Stop what this launcher started (all known backends when ``name`` is None).

        Servers found through the environment or already listening are never touched.
        Returns the names that were stopped.
        """
        stopped: list[str] = []
        for backend in self._names(name):
            with self._lock(backend):
                state = self._read_state(backend)
                if state is None:
                    continue
                recipe = self._recipe(backend)
                if state.get("source") == "docker":
                    self._compose(Path(state["compose_file"]), "down", "-v")
                else:
                    self._stop_native(recipe, state)
                    recipe.cleanup(self._dir(backend) / _WORK_DIR)
                self._clear_state(backend)
                stopped.append(backend)
        return stopped

    def status(self, name: str | None = None) -> list[BackendStatus]:
        """Current state of one backend, or of every known backend; never starts anything."""
        rows: list[BackendStatus] = []
        for backend in self._names(name):
            try:
                rows.append(self._status_of(backend))
            except BackendUnavailable as exc:
                rows.append(BackendStatus(backend, "unavailable", reason=exc.reason, enable_command=exc.enable_command))
        return rows

    def restart(self, name: str, *, kill: bool = False) -> Endpoint:
        """Stop and start a backend this launcher started, on the same port and working folder.

        For fault tests: a server that persists to its working folder (Redis's AOF, RabbitMQ's
        durable queues) comes back with its data; in-memory servers come back empty and are seeded
        again. ``kill=True`` stops it with SIGKILL to its whole process group (a crash: no shutdown
        hook runs, nothing is flushed) instead of the recipe's stop signal. Raises
        :class:`NotOwnedError` for a backend this launcher did not start.
        """
        recipe = self._recipe(name)
        with self._lock(name):
            state = self._read_state(name)
            if state is None or not self._state_alive(state):
                current = self._status_of_unowned(recipe)
                where = (
                    f"it is {current.state} (source: {current.source}, {current.address})"
                    if current.source
                    else "it is not running"
                )
                raise NotOwnedError(
                    f"cannot restart {name}: it was not started by this launcher; {where}. "
                    f"Start it with `blockyard backends up {name}` (and no "
                    f"BLOCKYARD_{env_name(name)}_URL) to make it restartable."
                )
            if state.get("source") == "docker":
                self._compose(Path(state["compose_file"]), "kill" if kill else "restart")
                if kill:
                    self._compose(Path(state["compose_file"]), "start")
                endpoint = self._endpoint_from_state(state)
                if not self._wait_ready(recipe, endpoint, recipe.startup_timeout):
                    raise BackendStartError(name, "not ready after restart", "see docker logs")
                return endpoint
            self._stop_native(recipe, state, signal.SIGKILL if kill else None)
            return self._start_native(recipe, port=int(state["port"]), fresh=False)

    def log_tail(self, name: str, lines: int = 40) -> str:
        """The last ``lines`` lines of the server log ("" when there is none)."""
        state = self._read_state(name)
        if state is not None and state.get("source") == "docker":
            result = self._compose(Path(state["compose_file"]), "logs", "--no-color", "--tail", str(lines))
            return result.stdout
        log = self._dir(name) / _LOG_FILE
        if not log.is_file():
            return ""
        with log.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            text = fh.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # -- resolution steps ---------------------------------------------------------------

    def recipe(self, name: str) -> NativeRecipe:
        """The recipe of backend ``name``; :class:`BackendUnavailable` for an unknown name."""
        return self._recipe(name)

    def _recipe(self, name: str) -> NativeRecipe:
        known = known_backends()
        if name not in known:
            raise BackendUnavailable(
                name,
                f"unknown backend {name!r} (known: {', '.join(known)})",
                f"BLOCKYARD_{env_name(name)}_URL=<loopback address> cannot help: use one of the known backend names",
            )
        recipe = load_recipe(name)
        if recipe is None:
            raise BackendUnavailable(
                name, f"no native recipe for {name} is installed", "reinstall blockyard-conformance"
            )
        return recipe

    @staticmethod
    def _check_clients(recipe: NativeRecipe) -> None:
        """Raise :class:`BackendUnavailable` naming the extra when a client library is missing."""
        absent = [m for m in recipe.client_modules if importlib.util.find_spec(m.split(".")[0]) is None]
        if absent:
            raise BackendUnavailable(
                recipe.backend,
                f"the Python client library {', '.join(absent)} is not installed",
                MISSING_EXTRA_COMMAND,
            )

    @staticmethod
    def _ready(recipe: NativeRecipe, endpoint: Endpoint) -> bool:
        """``recipe.ready``; a missing client library becomes :class:`BackendUnavailable`."""
        try:
            return recipe.ready(endpoint)
        except ModuleNotFoundError as exc:
            raise BackendUnavailable(
                recipe.backend,
                f"the Python client library {exc.name or '?'} is not installed",
                MISSING_EXTRA_COMMAND,
            ) from exc

    def _from_env(self, recipe: NativeRecipe) -> Endpoint | None:
        var = f"BLOCKYARD_{env_name(recipe.backend)}_URL"
        url = os.environ.get(var)
        if not url:
            return None
        try:
            return recipe.endpoint_from_url(url)
        except ValueError as exc:
            raise BackendUnavailable(recipe.backend, str(exc), f"set {var} to a 127.0.0.1 address") from exc

    def _listening(self, recipe: NativeRecipe, source: str = "listening") -> Endpoint | None:
        port = recipe.default_port
        if not port or not port_open(port):
            return None
        endpoint = recipe.listening_endpoint(port, source)
        return endpoint if self._ready(recipe, endpoint) else None

    def _docker_available(self) -> bool:
        if self._use_docker is None:
            self._use_docker = os.environ.get("BLOCKYARD_USE_DOCKER", "auto") not in (
                "0",
                "no",
                "false",
            )
        if not self._use_docker:
            return False
        if self._docker_ok is None:
            try:
                self._docker_ok = (
                    shutil.which("docker") is not None
                    and subprocess.run(["docker", "info"], capture_output=True, timeout=15, check=False).returncode == 0
                )
            except (OSError, subprocess.SubprocessError):
                self._docker_ok = False
        return self._docker_ok

    def _compose(self, compose: Path, *args: str) -> subprocess.CompletedProcess[str]:
        project = f"blockyard-{compose.stem}"
        return subprocess.run(
            ["docker", "compose", "-f", str(compose), "-p", project, *args],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def _compose_up(self, recipe: NativeRecipe, compose: Path) -> Endpoint:
        name = recipe.backend
        started = time.monotonic()
        result = self._compose(compose, "up", "-d", "--wait")
        if result.returncode != 0:
            raise BackendStartError(
                name,
                f"docker compose up failed: {result.stderr.strip()[-500:]}",
                f"docker compose -f {compose} up -d --wait",
            )
        endpoint = recipe.listening_endpoint(recipe.default_port, "docker")
        if not self._wait_ready(recipe, endpoint, recipe.startup_timeout):
            raise BackendStartError(name, "compose services up but the client cannot connect", "")
        self._seed_quietly(recipe, endpoint)
        self._write_state(
            name,
            {
                "source": "docker",
                "compose_file": str(compose),
                "port": endpoint.port,
                "startup_seconds": round(time.monotonic() - started, 3),
                **self._endpoint_fields(endpoint),
            },
        )
        return endpoint

    # -- native processes ---------------------------------------------------------------

    def _start_native(self, recipe: NativeRecipe, *, port: int, fresh: bool) -> Endpoint:
        """Start the recipe's server; its process is recorded in the state file right after the
        spawn, before anything can fail, so ``down`` finds it whatever happens next."""
        name = recipe.backend
        folder = self._dir(name)
        work = folder / _WORK_DIR
        if fresh and work.exists():
            recipe.cleanup(work)
            shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True, exist_ok=True)
        log_path = folder / _LOG_FILE
        started = time.monotonic()
        with log_path.open("ab" if not fresh else "wb") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"--- blockyard: starting {name} on {LOOPBACK}:{port} at {stamp}\n".encode())
            log.flush()
            proc = recipe.start(work, port, log)
        with self._children_lock:
            self._children[proc.pid] = proc
        state: dict[str, Any] = {
            "source": "native",
            "pid": proc.pid,
            "pgid": proc.pid,
            "port": port,
            "cmdline": procs.cmdline(proc.pid) or [],
            "start_ticks": procs.start_ticks(proc.pid),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "project": str(project_dir()),
        }
        try:
            endpoint = replace(recipe.endpoint(port, work), source="native", log_path=log_path)
            state.update(self._endpoint_fields(endpoint))
            self._write_state(name, state)
            ready = self._wait_ready(recipe, endpoint, recipe.startup_timeout, proc=proc)
        except BaseException:
            self._abandon(recipe, state)
            raise
        if not ready:
            exit_code = proc.poll()
            self._abandon(recipe, state)
            what = (
                f"exited with code {exit_code}"
                if exit_code is not None
                else f"not ready after {recipe.startup_timeout:.0f} s"
            )
            raise BackendStartError(
                name,
                f"{name} {what}; last log lines:\n{self.log_tail(name, 15)}",
                f"see {log_path}",
            )
        state["startup_seconds"] = round(time.monotonic() - started, 3)
        state["cmdline"] = procs.cmdline(proc.pid) or state["cmdline"]
        self._write_state(name, state)
        try:
            recipe.seed(endpoint)
        except BaseException as exc:
            self._abandon(recipe, state)
            if not isinstance(exc, Exception):
                raise
            raise BackendStartError(name, f"seeding failed: {exc!r}", f"see {log_path}") from exc
        return endpoint

    def _abandon(self, recipe: NativeRecipe, state: dict[str, Any]) -> None:
        """Stop a server whose start failed and forget it (its log stays for the report)."""
        self._stop_native(recipe, state)
        with contextlib.suppress(FileNotFoundError):
            (self._root() / recipe.backend / _STATE_FILE).unlink()

    def _stop_native(self, recipe: NativeRecipe, state: dict[str, Any], sig: int | None = None) -> None:
        pgid = int(state.get("pgid") or 0)
        if pgid <= 1:
            return
        if self._state_alive(state) or (not procs.is_alive(int(state["pid"])) and procs.group_members(pgid)):
            procs.stop_group(pgid, sig or recipe.stop_signal, _STOP_TIMEOUT)
        self._reap(int(state["pid"]))

    def _reap(self, pid: int) -> None:
        with self._children_lock:
            proc = self._children.pop(pid, None)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    @staticmethod
    def _state_alive(state: dict[str, Any]) -> bool:
        """True when the recorded leader still runs: same pid and start time (else same argv)."""
        if state.get("source") == "docker":
            return True
        pid = int(state.get("pid") or 0)
        if pid <= 1 or not procs.is_alive(pid):
            return False
        if state.get("start_ticks") is not None:  # pid + start time: the process, even if it renames itself
            return bool(procs.start_ticks(pid) == state["start_ticks"])
        return procs.cmdline(pid) == state.get("cmdline")

    def _owned_endpoint(self, recipe: NativeRecipe) -> Endpoint | None:
        """Endpoint of a backend already started by a launcher, waiting for it if needed."""
        state = self._read_state(recipe.backend)
        if state is None:
            return None
        if not self._state_alive(state):
            self._stop_native(recipe, state)
            self._clear_state(recipe.backend)
            return None
        endpoint = self._endpoint_from_state(state)
        if self._wait_ready(recipe, endpoint, recipe.startup_timeout):
            return endpoint
        raise BackendStartError(
            recipe.backend,
            f"recorded server (pid {state.get('pid')}) runs but does not answer",
            f"blockyard backends down {recipe.backend} && blockyard backends up {recipe.backend}",
        )

    def _wait_ready(
        self,
        recipe: NativeRecipe,
        endpoint: Endpoint,
        timeout: float,
        proc: subprocess.Popen[bytes] | None = None,
    ) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if proc is not None and proc.poll() is not None:
                return False
            if self._ready(recipe, endpoint):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def _seed_quietly(self, recipe: NativeRecipe, endpoint: Endpoint) -> None:
        """Seed a server we did not start; a failure (say, a different token) is not fatal."""
        with contextlib.suppress(Exception):
            recipe.seed(endpoint)

    # -- status -------------------------------------------------------------------------

    def _status_of(self, name: str) -> BackendStatus:
        try:
            recipe = self._recipe(name)
        except BackendUnavailable as exc:
            return BackendStatus(
                name,
                "unavailable",
                reason=exc.reason,
                enable_command=exc.enable_command,
            )
        state = self._read_state(name)
        if state is not None:
            endpoint = self._endpoint_from_state(state)
            alive = self._state_alive(state)
            if not alive:
                return BackendStatus(
                    name,
                    "not running",
                    source=state.get("source"),
                    flavour=endpoint.flavour,
                    address=endpoint.address,
                    reason="the recorded server has exited (run `down` to clear it)",
                    enable_command=f"blockyard backends up {name}",
                )
            pid = int(state["pid"]) if state.get("pid") else None
            return BackendStatus(
                name,
                "ready" if self._ready(recipe, endpoint) else "not ready",
                source=endpoint.source,
                flavour=endpoint.flavour,
                address=endpoint.address,
                pid=pid,
                rss_bytes=procs.group_rss_bytes(int(state["pgid"])) if state.get("pgid") else None,
                endpoint=endpoint,
            )
        return self._status_of_unowned(recipe)

    def _status_of_unowned(self, recipe: NativeRecipe) -> BackendStatus:
        name = recipe.backend
        self._check_clients(recipe)
        try:
            from_env = self._from_env(recipe)
        except BackendUnavailable as exc:
            return BackendStatus(
                name,
                "unavailable",
                source="env",
                reason=exc.reason,
                enable_command=exc.enable_command,
            )
        if from_env is not None:
            ok = self._ready(recipe, from_env)
            return BackendStatus(
                name,
                "ready" if ok else "not ready",
                source="env",
                flavour=from_env.flavour,
                address=from_env.address,
                reason=None if ok else "the address in the environment does not answer",
                endpoint=from_env,
            )
        listening = self._listening(recipe)
        if listening is not None:
            return BackendStatus(
                name,
                "ready",
                source="listening",
                flavour=listening.flavour,
                address=listening.address,
                endpoint=listening,
            )
        if compose_file(name) is not None and self._docker_available():
            return BackendStatus(name, "not running", source="docker")
        reason = recipe.missing()
        if reason is not None:
            return BackendStatus(
                name,
                "unavailable",
                reason=reason,
                enable_command=self._enable_command(recipe),
            )
        return BackendStatus(
            name,
            "not running",
            source="native",
            enable_command=f"blockyard backends up {name}",
        )

    # -- state files --------------------------------------------------------------------

    def _names(self, name: str | None) -> tuple[str, ...]:
        return known_backends() if name is None else (name,)

    def _root(self) -> Path:
        if self._state_dir is not None:
            self._state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            return self._state_dir
        return state_root()

    def _dir(self, name: str) -> Path:
        folder = self._root() / name
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder

    @contextlib.contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        """Exclusive per-backend lock, across threads and processes."""
        with (self._root() / f".{name}.lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read_state(self, name: str) -> dict[str, Any] | None:
        path = self._root() / name / _STATE_FILE
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return data

    def _write_state(self, name: str, data: dict[str, Any]) -> None:
        path = self._dir(name) / _STATE_FILE
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"backend": name, **data}, fh, indent=2, default=str)
        tmp.replace(path)

    def _clear_state(self, name: str) -> None:
        folder = self._root() / name
        with contextlib.suppress(FileNotFoundError):
            (folder / _STATE_FILE).unlink()
        shutil.rmtree(folder / _WORK_DIR, ignore_errors=True)

    @staticmethod
    def _endpoint_fields(endpoint: Endpoint) -> dict[str, Any]:
        fields = asdict(endpoint)
        fields["params"] = dict(endpoint.params)
        fields["log_path"] = str(endpoint.log_path) if endpoint.log_path else None
        return {"endpoint": fields}

    @staticmethod
    def _endpoint_from_state(state: dict[str, Any]) -> Endpoint:
        fields = dict(state["endpoint"])
        fields["log_path"] = Path(fields["log_path"]) if fields.get("log_path") else None
        return Endpoint(**fields)

    def _enable_command(self, recipe: NativeRecipe) -> str:
        """Commands that work wherever the kit is installed: install natively, point at a server, or Docker."""
        name = recipe.backend
        port = recipe.default_port or "PORT"
        options = [recipe.install_hint] if recipe.install_hint else []
        options.append(f"BLOCKYARD_{env_name(name)}_URL=<url of a server on {LOOPBACK}:{port}>")
        compose = compose_file(name)
        if compose is not None:
            options.append(f"docker compose -f {compose} up -d --wait")
        return " or ".join(options)


_LAUNCHER: Launcher | None = None
_LAUNCHER_LOCK = threading.Lock()


def get_launcher() -> Launcher:
    """The process-wide :class:`Launcher` (state under ``$BLOCKYARD_STATE_DIR``)."""
    global _LAUNCHER
    with _LAUNCHER_LOCK:
        if _LAUNCHER is None:
            _LAUNCHER = Launcher()
        return _LAUNCHER

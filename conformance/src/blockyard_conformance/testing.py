"""Servers a test starts itself, and free loopback ports: the one way every test-suite does it.

A test gets its backend from the launcher (``blockyard_conformance.backends``); a test that needs a
server of its very own (a TLS dev server, one it stops, a second instance) starts it with
:class:`ServerProcess`, the launcher's own primitives: a new session bound to 127.0.0.1, output to
a log file, a readiness probe, and only that process group stopped afterwards::

    from blockyard_conformance.testing import ServerProcess, free_port

    port = free_port()
    with ServerProcess(["redis-server", "--port", str(port), "--bind", "127.0.0.1"],
                       ready=lambda: port_open(port), workdir=tmp_path) as server:
        ...  # talk to 127.0.0.1:port; server.restart() / server.stop() when the test needs it
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from blockyard_conformance.backends.procs import stop_group
from blockyard_conformance.backends.recipe import LOOPBACK, free_port, port_open, spawn

__all__ = ["LOOPBACK", "ServerProcess", "free_port", "port_open", "silent_port"]


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (into the kernel's backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


class ServerProcess:
    """One server process a test owns: started in its own session, stopped as a group.

    :param argv: the command; it must bind 127.0.0.1 only.
    :param ready: probe called until it returns True (it must not raise).
    :param workdir: folder for its files and ``server.log``.
    :param env: variables added to the environment.
    :param timeout: seconds :meth:`start` waits for ``ready``.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        ready: Callable[[], bool],
        workdir: Path,
        env: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.argv = list(argv)
        self.workdir = workdir
        self.log_path = workdir / "server.log"
        self._ready = ready
        self._env = dict(env or {})
        self._timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._proc is not None

    def start(self) -> Self:
        """Spawn the server and wait until ``ready()``.

        :raises RuntimeError: it exited or was not ready within ``timeout`` (with the log's end; it is stopped).
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            proc = spawn(self.argv, log, cwd=self.workdir, env=self._env)
        self._proc = proc
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if self._ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.argv[0]} did not become ready within {self._timeout:g}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL). Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_group(proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    def restart(self) -> None:
        """Stop and start again (same command, same folder)."""
        self.stop()
        self.start()

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

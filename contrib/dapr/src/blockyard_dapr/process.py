"""One native Dapr program on loopback in its own session: start, wait until healthy, stop, log tail."""

from __future__ import annotations

import abc
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

__all__ = ["LoopbackProcess", "ProcessError", "http_answers"]


class ProcessError(RuntimeError):
    """A Dapr program exited or did not become healthy; the message ends with its log's tail."""


def http_answers(url: str, statuses: tuple[int, ...] = (200, 204)) -> bool:
    """True when a GET of ``url`` answers one of ``statuses``; never raises."""
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return bool(r.status in statuses)
    except (urllib.error.URLError, OSError):
        return False


class LoopbackProcess(abc.ABC):
    """Mixin for a dataclass with ``log_path`` and ``process`` fields; a context manager (started on
    entry, stopped on exit)."""

    program: ClassVar[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None

    @abc.abstractmethod
    def command(self) -> list[str]:
        """The command line."""

    @abc.abstractmethod
    def healthy(self) -> bool:
        """True when the program serves; never raises."""

    def environment(self) -> dict[str, str]:
        """The program's environment (default: this process's)."""
        return dict(os.environ)

    def prepare(self) -> None:
        """Write what the program reads at start (default: nothing)."""
        return

    def start(self, timeout: float = 60.0) -> Self:
        """Start and wait until healthy.

        :raises ProcessError: it exited or was not healthy within ``timeout`` (with its log's tail).
        """
        return self.spawn().wait_healthy(timeout)

    def spawn(self) -> Self:
        """Start without waiting (for two programs that wait for each other)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.environment(), start_new_session=True
            )
        return self

    def wait_healthy(self, timeout: float = 60.0) -> Self:
        """Wait until the started program is healthy.

        :raises ProcessError: it exited or was not healthy within ``timeout`` (with its log's tail).
        """
        assert self.process is not None, "spawn() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self.error(f"{self.program} exited with code {self.process.returncode}")
            if self.healthy():
                return self
            time.sleep(0.1)
        self.stop()
        raise self.error(f"{self.program} was not healthy within {timeout:.0f} s")

    def error(self, message: str) -> ProcessError:
        """``message`` followed by the log's tail."""
        return ProcessError(f"{message}:\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0, sig: int = signal.SIGTERM) -> int | None:
        """Send ``sig`` (SIGTERM; SIGKILL for a crash), SIGKILL after ``timeout``; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        os.killpg(self.process.pid, sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

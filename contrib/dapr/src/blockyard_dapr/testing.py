"""Run ``blockyard serve`` as a child process, for tests and benchmarks of served components."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from blockyard_dapr.daprd import free_port
from blockyard_dapr.process import LoopbackProcess, http_answers
from blockyard_dapr.sockets import socket_answers

__all__ = ["AppProcess", "ServeProcess", "component_document"]


def component_document(name: str, type_: str, metadata: dict[str, Any], secret_store: str | None = None) -> str:
    """A Component file (JSON, which is YAML); a metadata value that is a mapping is a ``secretKeyRef``."""
    doc: dict[str, Any] = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {
            "type": type_,
            "version": "v1",
            "metadata": [
                {"name": k, **({"secretKeyRef": v} if isinstance(v, dict) else {"value": v})}
                for k, v in metadata.items()
            ],
        },
    }
    if secret_store:
        doc["auth"] = {"secretStore": secret_store}
    return json.dumps(doc)


@dataclass
class ServeProcess:
    """``blockyard serve ARGS`` in its own session; ready when every expected socket answers."""

    args: list[str]
    socket_folder: Path
    sockets: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    program: list[str] = field(default_factory=lambda: [sys.executable, "-m", "blockyard.cli"])
    """What runs ``serve ARGS``: the ``blockyard`` command (a script that registers more types may stand in)."""
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def start(self, timeout: float = 60.0) -> Self:
        """Start serving and wait for the sockets.

        :raises RuntimeError: the server exited or its sockets did not answer in time (with its output).
        """
        command = [
            *self.program,
            "serve",
            *self.args,
            "--socket-folder",
            str(self.socket_folder),
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"blockyard serve exited with {self.process.returncode}:\n{self.output()}")
            if all(socket_answers(self.socket_path(name)) for name in self.sockets):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"blockyard serve was not ready within {timeout:.0f} s:\n{self.output()}")

    def socket_path(self, name: str) -> Path:
        """The path of socket ``name`` (without ``.sock``)."""
        return self.socket_folder / f"{name}.sock"

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout``); returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def output(self) -> str:
        """What the server printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


@dataclass
class AppProcess(LoopbackProcess):
    """A Python app (``python SCRIPT --port PORT ARGS``) that daprd calls back; ready when
    ``GET /healthz`` answers 200 on its port."""

    program: ClassVar[str] = "app"

    script: Path
    log_path: Path
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def command(self) -> list[str]:
        return [sys.executable, str(self.script), "--port", str(self.port), *self.args]

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def healthy(self) -> bool:
        return http_answers(f"http://127.0.0.1:{self.port}/healthz", (200,))

"""What the Dapr demos share: Blockyard components served to daprd, sidecars, and the apps' processes.

Every process runs on loopback in its own session and is stopped when the demo ends: the backend
comes from Blockyard's launcher, each sidecar gets its own ``blockyard serve`` (daprd names its
instances by Component name, so one server per sidecar keeps the apps' instances apart).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blockyard_dapr.daprd import Daprd, build, free_port
from blockyard_dapr.testing import ServeProcess

__all__ = ["App", "Sidecar", "render", "sidecar", "wait_for_lines"]

HERE = Path(__file__).resolve().parent


def render(template: Path, values: dict[str, str], into: Path) -> Path:
    """Copy a Component file into a resources folder, its ``${NAME}`` placeholders filled."""
    text = template.read_text()
    for name, value in values.items():
        text = text.replace(f"${{{name}}}", value)
    into.mkdir(parents=True, exist_ok=True)
    target = into / template.name
    target.write_text(text)
    return target


@dataclass
class App:
    """An application process (any language) listening on ``port``, printing one JSON line per event."""

    command: list[str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str] | None = None) -> App:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "APP_PORT": str(self.port), **(env or {})},
                start_new_session=True,
            )
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def events(self) -> list[dict[str, Any]]:
        """The JSON lines the app printed."""
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return [json.loads(line) for line in lines if line.startswith("{")]


@dataclass
class Sidecar:
    daprd: Daprd
    serve: ServeProcess

    def env(self) -> dict[str, str]:
        """What the Dapr SDKs read to find this sidecar."""
        return {
            "DAPR_RUNTIME_HOST": "127.0.0.1",
            "DAPR_HTTP_PORT": str(self.daprd.http_port),
            "DAPR_GRPC_PORT": str(self.daprd.grpc_port),
        }


@contextlib.contextmanager
def sidecar(
    app_id: str, resources: Path, serve_types: list[str], sockets: list[str], work: Path, app_port: int | None = None
) -> Iterator[Sidecar]:
    """``blockyard serve --type ...`` plus one daprd reading its sockets; both stopped on exit."""
    folder = Path(tempfile.mkdtemp(prefix="by-demo-"))  # short: socket paths are limited to 107 bytes
    args = [a for t in serve_types for a in ("--type", t)]
    serve = ServeProcess(args, folder, sockets, work / f"{app_id}-serve.log")
    daprd = Daprd(app_id, resources, folder, work / f"{app_id}-daprd.log", app_port=app_port, binary=build())
    try:
        serve.start()
        daprd.start(timeout=120)
        yield Sidecar(daprd, serve)
    finally:
        daprd.stop()
        serve.stop()
        shutil.rmtree(folder, ignore_errors=True)


def wait_for_lines(done: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``done`` until it holds; raise naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def python_app(script: Path, port: int, log: Path) -> App:
    """A Python app of the demo."""
    return App([sys.executable, str(script)], port, log)


def node_app(script: Path, port: int, log: Path) -> App:
    """A Node.js app of the demo (``node`` on PATH)."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed (as root on Debian: apt-get install -y nodejs)")
    return App([node, str(script)], port, log)


__all__ += ["free_port", "node_app", "python_app"]

"""AWS endpoints for the tests: the launcher's moto server (shared), or a moto server a test owns.

The shared server is never reset or restarted: tests namespace every table, bucket, queue and
secret by a fresh id. Tests that restart the server, turn on moto's authentication or inject
faults start their own :class:`MotoProcess` on a free loopback port.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_FAULT_SERVER = Path(__file__).with_name("aws_fault_server.py")


@dataclass
class Aws:
    """Where an AWS endpoint listens, with the credentials to use there."""

    url: str
    region: str = "us-east-1"
    access_key: str = "test"
    secret_key: str = "test"

    def metadata(self, **extra: Any) -> dict[str, Any]:
        md: dict[str, Any] = {
            "endpoint": self.url,
            "region": self.region,
            "accessKey": self.access_key,
            "secretKey": self.secret_key,
        }
        md.update(extra)
        return md

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launcher_aws() -> Aws:
    """The launcher's ``aws`` backend; the test is not run when it cannot be had."""
    launcher = pytest.importorskip("blockyard_conformance.backends.launcher", reason="blockyard-conformance missing")
    from blockyard_conformance.backends.recipe import BackendUnavailable

    try:
        ep = launcher.get_launcher().up("aws")
    except BackendUnavailable as exc:
        pytest.skip(f"aws is not available: {exc.reason}; enable with: {exc.enable_command}")
    return Aws(ep.url, ep.params.get("region", "us-east-1"), ep.params["accessKey"], ep.params["secretKey"])


class MotoProcess:
    """A moto server these tests own (with fault injection), on 127.0.0.1; it may be restarted."""

    def __init__(self, workdir: Path) -> None:
        pytest.importorskip("moto.moto_server.werkzeug_app", reason="moto[server] is not installed")
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.workdir / "moto.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, str(_FAULT_SERVER), str(self.port)], stdout=log, stderr=log, cwd=self.workdir
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/blockyard-faults", timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"moto exited; see {self.workdir / 'moto.log'}") from None
                time.sleep(0.1)
        raise RuntimeError(f"moto on port {self.port} did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None

    def post(self, path: str, body: bytes) -> bytes:
        req = urllib.request.Request(
            f"{self.url}{path}", data=body, method="POST", headers={"Content-Type": "application/octet-stream"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return bytes(resp.read())

    def inject(self, target: str, count: int, code: str = "ThrottlingException") -> None:
        """Answer the next ``count`` requests to ``target`` (an X-Amz-Target suffix) with ``code``."""
        self.post("/blockyard-faults", json.dumps({"target": target, "count": count, "code": code}).encode())

    def faults(self) -> dict[str, int]:
        """``{"served": ..., "remaining": ...}`` of the injected faults."""
        with urllib.request.urlopen(f"{self.url}/blockyard-faults", timeout=10) as resp:
            return dict(json.loads(resp.read()))

    def aws(self) -> Aws:
        return Aws(self.url)

"""The ``twilio`` backend: :mod:`..twilio_capture_server`, a Twilio-shaped capture server, run by the
current Python interpreter (Twilio itself has no local server)."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import IO, ClassVar

from .. import twilio_capture_server
from ..recipe import LOOPBACK, Endpoint, NativeRecipe, spawn


class TwilioCaptureRecipe(NativeRecipe):
    """Needs nothing installed: the server is part of this package and uses only the stdlib."""

    backend: ClassVar[str] = "twilio"
    default_port: ClassVar[int] = 22223
    startup_timeout: ClassVar[float] = 10.0

    def missing(self) -> str | None:
        return None

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return spawn([sys.executable, twilio_capture_server.__file__, str(port), LOOPBACK], log, cwd=workdir)

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        return Endpoint(
            backend=self.backend,
            flavour="twilio capture server (native, Python http.server; Twilio-shaped, not Twilio)",
            host=LOOPBACK,
            port=port,
            url=f"http://{LOOPBACK}:{port}",
            source="native",
        )

    def ready(self, endpoint: Endpoint) -> bool:
        url = endpoint.url + twilio_capture_server.HEALTH_PATH
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200 and resp.read() == twilio_capture_server.HEALTH_BODY)
        except Exception:
            return False

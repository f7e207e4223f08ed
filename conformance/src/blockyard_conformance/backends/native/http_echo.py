"""The ``http-echo`` backend: :mod:`..http_echo_server` run by the current Python interpreter."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import IO, ClassVar

from .. import http_echo_server
from ..recipe import LOOPBACK, Endpoint, NativeRecipe, spawn


class HttpEchoRecipe(NativeRecipe):
    """Needs nothing installed: the server is part of this package and uses only the stdlib."""

    backend: ClassVar[str] = "http-echo"
    default_port: ClassVar[int] = 22222
    startup_timeout: ClassVar[float] = 10.0

    def missing(self) -> str | None:
        return None

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return spawn([sys.executable, http_echo_server.__file__, str(port), LOOPBACK], log, cwd=workdir)

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        return Endpoint(
            backend=self.backend,
            flavour="http-echo (native, Python http.server)",
            host=LOOPBACK,
            port=port,
            url=f"http://{LOOPBACK}:{port}",
            source="native",
        )

    def ready(self, endpoint: Endpoint) -> bool:
        url = endpoint.url + http_echo_server.HEALTH_PATH
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200 and resp.read() == http_echo_server.HEALTH_BODY)
        except Exception:
            return False

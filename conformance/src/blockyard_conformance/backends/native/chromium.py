"""The ``chromium`` backend: Debian's headless Chromium behind its WebDriver server, ``chromedriver``.

Browser checks (the documentation site, the conformance HTML report) open pages through it with a
WebDriver client (selenium)::

    endpoint = require_backend("chromium")   # or @pytest.mark.backend("chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = endpoint.params["browser"]
    driver = webdriver.Remote(endpoint.url, options=options)

``chromedriver`` listens on 127.0.0.1 only and accepts connections from loopback only; it starts a
browser per WebDriver session. ``blockyard backends install chromium`` installs both packages and a
colour emoji font (the reports mark statuses with emoji).
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import IO, ClassVar

from ..recipe import LOOPBACK, Endpoint, NativeRecipe, spawn, which
from .tools import tool_version

__all__ = ["ChromiumRecipe"]

_INSTALL = "blockyard backends install chromium"


class ChromiumRecipe(NativeRecipe):
    """``chromedriver --port=PORT`` with ``/usr/bin/chromium`` as the browser it drives."""

    backend: ClassVar[str] = "chromium"
    apt_packages: ClassVar[tuple[str, ...]] = ("chromium", "chromium-driver", "fonts-noto-color-emoji")
    default_port: ClassVar[int] = 9515
    startup_timeout: ClassVar[float] = 20.0
    install_hint: ClassVar[str] = _INSTALL

    def missing(self) -> str | None:
        if which("chromium") is None:
            return f"chromium is not installed ({_INSTALL})"
        if which("chromedriver") is None:
            return f"chromedriver is not installed ({_INSTALL})"
        return None

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        binary = which("chromedriver")
        if binary is None:
            raise RuntimeError(self.missing())
        return spawn([binary, f"--port={port}", "--allowed-ips=127.0.0.1"], log, cwd=workdir)

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        browser = which("chromium") or "chromium"
        version = tool_version([browser, "--version"]) if which("chromium") else "?"
        return Endpoint(
            backend=self.backend,
            flavour=f"chromium {version} via chromedriver (native)",
            host=LOOPBACK,
            port=port,
            url=f"http://{LOOPBACK}:{port}",
            source="native",
            params={"browser": browser},
        )

    def endpoint_from_url(self, url: str) -> Endpoint:
        endpoint = super().endpoint_from_url(url)
        return replace(endpoint, params={"browser": which("chromium") or "chromium"})

    def ready(self, endpoint: Endpoint) -> bool:
        try:
            with urllib.request.urlopen(f"{endpoint.url}/status", timeout=2) as resp:
                return bool(json.load(resp).get("value", {}).get("ready"))
        except Exception:
            return False

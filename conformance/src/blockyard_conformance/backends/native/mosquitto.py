"""Mosquitto (MQTT 3.1.1/5) from Debian's ``mosquitto``: anonymous, no persistence."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import IO, Any, ClassVar

from ..recipe import LOOPBACK, Endpoint, NativeRecipe, spawn, which
from .tools import tool_version

_INSTALL = "blockyard backends install mosquitto"


class MosquittoRecipe(NativeRecipe):
    """``mosquitto -c CONF`` with one listener on 127.0.0.1 that allows anonymous clients."""

    backend: ClassVar[str] = "mosquitto"
    apt_packages: ClassVar[tuple[str, ...]] = ("mosquitto",)
    pip_packages: ClassVar[tuple[str, ...]] = ()
    client_modules: ClassVar[tuple[str, ...]] = ("paho.mqtt",)
    default_port: ClassVar[int] = 1883
    startup_timeout: ClassVar[float] = 10.0
    install_hint: ClassVar[str] = _INSTALL

    def missing(self) -> str | None:
        return None if which("mosquitto") else f"mosquitto is not installed ({_INSTALL})"

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        binary = which("mosquitto")
        if binary is None:
            raise RuntimeError(self.missing())
        conf = workdir / "mosquitto.conf"
        conf.write_text(f"listener {port} {LOOPBACK}\nallow_anonymous true\npersistence false\nlog_dest stdout\n")
        conf.chmod(0o644)
        return spawn([binary, "-c", str(conf)], log, cwd=workdir)

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        binary = which("mosquitto")
        version = tool_version([binary, "-h"]) if binary else "?"
        return Endpoint(
            backend=self.backend,
            flavour=f"mosquitto {version} (native)",
            host=LOOPBACK,
            port=port,
            url=f"tcp://{LOOPBACK}:{port}",
            source="native",
        )

    def ready(self, endpoint: Endpoint) -> bool:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        connected = threading.Event()

        def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            if not reason.is_failure:
                connected.set()

        try:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="blockyard-probe")
            client.on_connect = on_connect
            client.connect(endpoint.host, endpoint.port, keepalive=5)
        except Exception:
            return False
        try:
            for _ in range(20):
                client.loop(timeout=0.1)
                if connected.is_set():
                    return True
            return False
        except Exception:
            return False
        finally:
            try:
                client.disconnect()
            except Exception:
                pass

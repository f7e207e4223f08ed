"""Real Redis servers for the tests: the conformance launcher's when it is installed, else our own.

``redis_server`` / ``redis_auth_server`` come from ``get_launcher().up(...)`` when
``blockyard_conformance`` is importable, otherwise from a ``redis-server`` started here on a free
loopback port. The fault tests restart the launcher's own server (see ``test_redis_fault.py``).
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from blockyard_conformance.testing import ServerProcess, free_port

REDIS_SERVER = shutil.which("redis-server")
ENABLE = "apt-get install -y --no-install-recommends redis-server"


@dataclass
class Server:
    """Where a Redis server listens; ``process`` is set for servers started by these tests."""

    host: str
    port: int
    password: str | None = None
    process: RedisProcess | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def metadata(self, **extra: Any) -> dict[str, Any]:
        md: dict[str, Any] = {"redisHost": self.address}
        if self.password:
            md["redisPassword"] = self.password
        md.update(extra)
        return md


class RedisProcess:
    """A ``redis-server`` on 127.0.0.1 that these tests own (and may restart)."""

    def __init__(self, workdir: Path, *, password: str | None = None) -> None:
        if REDIS_SERVER is None:
            pytest.skip(f"redis-server is not installed; enable with: {ENABLE}")
        self.port = free_port()
        self.password = password
        lines = ["bind 127.0.0.1", f"port {self.port}", f"dir {workdir}", 'save ""', "appendonly no"]
        if password:
            lines.append(f"requirepass {password}")
        conf = workdir / "redis.conf"
        conf.write_text("\n".join(lines) + "\n")
        conf.chmod(0o600)
        self.process = ServerProcess([REDIS_SERVER, str(conf)], ready=self._answers, workdir=workdir, timeout=10)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def start(self) -> None:
        self.process.start()

    def stop(self) -> None:
        self.process.stop()

    def server(self) -> Server:
        return Server("127.0.0.1", self.port, self.password, self)


def launcher_up(name: str) -> Server | None:
    """The launcher's ``name`` server, ``None`` when the kit is not installed (then start our own).

    A backend this machine lacks makes the test *not run*; one that failed to start fails it.
    """
    try:
        from blockyard_conformance.real_backends import require_backend  # type: ignore[import-not-found]
    except ImportError:
        return None
    ep = require_backend(name)
    return Server(ep.host, ep.port, ep.params.get("password"))


async def eventually(check: Callable[[], Any], within: float = 10.0) -> None:
    """Wait until ``check()`` (a bool, or an awaitable of one) is true; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not (await r if inspect.isawaitable(r := check()) else r):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.02)

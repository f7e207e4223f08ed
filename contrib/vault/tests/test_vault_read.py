"""Reading secrets from a real Vault-compatible server: Dapr's conformance checks and beyond."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from blockyard.errors import ComponentConfigError, InvalidRequestError, NotSupportedError, SecretNotFoundError
from blockyard.secretstores import SecretStoreFeature
from blockyard_vault.secretstore import VaultSecretStore
from blockyard_vault.testing import VaultServer as Vault

pytestmark = pytest.mark.backend("vault")


class TestConformance:
    """What Dapr's secret store conformance test checks, and the seeded extras it leaves unused."""

    async def test_get_returns_exactly_the_secret(self, store: VaultSecretStore) -> None:
        assert await store.get_secret("conftestsecret") == {"conftestsecret": "abcd"}

    async def test_bulk_includes_the_seeded_secrets(self, store: VaultSecretStore) -> None:
        everything = await store.bulk_get_secrets()
        assert everything["conftestsecret"] == {"conftestsecret": "abcd"}
        assert everything["secondsecret"] == {"secondsecret": "efgh"}

    async def test_multiple_keys_per_secret(self, store: VaultSecretStore) -> None:
        assert SecretStoreFeature.MULTIPLE_KEY_VALUES_PER_SECRET in store.features
        assert await store.get_secret("multiplekeyvaluessecret") == {"first": "1", "second": "2", "third": "3"}

    async def test_versions(self, store: VaultSecretStore) -> None:
        assert SecretStoreFeature.SECRET_VERSIONS in store.features
        assert await store.get_secret("versioned", metadata={"version_id": "1"}) == {"versioned": "v1"}
        assert await store.get_secret("versioned", metadata={"version_id": "2"}) == {"versioned": "v2"}
        assert await store.get_secret("versioned", metadata={"version_id": "0"}) == {"versioned": "v2"}
        assert await store.get_secret("versioned") == {"versioned": "v2"}

    async def test_bulk_with_a_version_leaves_out_secrets_without_it(self, store: VaultSecretStore) -> None:
        second = await store.bulk_get_secrets(metadata={"version_id": "2"})
        assert second["versioned"] == {"versioned": "v2"}
        assert "conftestsecret" not in second


class TestVersions:
    async def test_missing_version_is_not_found(self, store: VaultSecretStore) -> None:
        with pytest.raises(SecretNotFoundError, match="version 99"):
            await store.get_secret("versioned", metadata={"version_id": "99"})

    @pytest.mark.parametrize("bad", ["abc", "-1", "1.5"])
    async def test_malformed_version_id(self, store: VaultSecretStore, bad: str) -> None:
        with pytest.raises(InvalidRequestError, match="version_id"):
            await store.get_secret("versioned", metadata={"version_id": bad})

    async def test_version_stage_is_not_supported(self, store: VaultSecretStore) -> None:
        with pytest.raises(NotSupportedError, match="version_stage"):
            await store.get_secret("versioned", metadata={"version_stage": "AWSCURRENT"})

    async def test_deleted_latest_version(self, vault: Vault, prefix: str) -> None:
        kv = vault.client().secrets.kv.v2
        kv.create_or_update_secret(path=f"{prefix}/gone", secret={"k": "old"})
        kv.create_or_update_secret(path=f"{prefix}/gone", secret={"k": "new"})
        kv.create_or_update_secret(path=f"{prefix}/kept", secret={"k": "v"})
        kv.delete_latest_version_of_secret(path=f"{prefix}/gone")
        async with VaultSecretStore(vault.meta(vaultKVPrefix=prefix)) as store:
            with pytest.raises(SecretNotFoundError, match="gone"):
                await store.get_secret("gone")
            assert await store.get_secret("gone", metadata={"version_id": "1"}) == {"k": "old"}
            assert await store.bulk_get_secrets() == {"kept": {"k": "v"}}


class TestValues:
    async def test_non_string_values_are_compact_json(self, vault: Vault, prefix: str) -> None:
        value = {"n": 1, "f": 1.5, "t": True, "z": None, "l": [1, "a"], "o": {"x": "é"}, "s": "plain"}
        vault.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/mixed", secret=value)
        async with VaultSecretStore(vault.meta(vaultKVPrefix=prefix)) as store:
            got = await store.get_secret("mixed")
        assert got == {
            "n": "1",
            "f": "1.5",
            "t": "true",
            "z": "null",
            "l": '[1,"a"]',
            "o": '{"x":"é"}',
            "s": "plain",
        }

    async def test_text_value_type(self, vault: Vault) -> None:
        async with VaultSecretStore(vault.meta(vaultValueType="text")) as store:
            assert SecretStoreFeature.MULTIPLE_KEY_VALUES_PER_SECRET not in store.features
            assert SecretStoreFeature.SECRET_VERSIONS in store.features
            assert await store.get_secret("conftestsecret") == {"conftestsecret": '{"conftestsecret":"abcd"}'}
            got = await store.get_secret("multiplekeyvaluessecret")
        assert got == {"multiplekeyvaluessecret": '{"first":"1","second":"2","third":"3"}'}
        assert VaultSecretStore.features >= {SecretStoreFeature.MULTIPLE_KEY_VALUES_PER_SECRET}

    async def test_invalid_value_type_is_a_config_error(self, vault: Vault) -> None:
        with pytest.raises(ComponentConfigError, match="vaultValueType"):
            VaultSecretStore(vault.meta(vaultValueType="json"))


class TestPaths:
    async def test_bulk_lists_recursively_and_concurrently(self, vault: Vault, prefix: str) -> None:
        kv = vault.client().secrets.kv.v2
        expected = {}
        for i in range(20):
            name = f"s{i:02d}" if i % 2 else f"team/{'deep/' if i % 4 == 0 else ''}s{i:02d}"
            kv.create_or_update_secret(path=f"{prefix}/{name}", secret={"i": str(i)})
            expected[name] = {"i": str(i)}
        async with VaultSecretStore(vault.meta(vaultKVPrefix=prefix)) as store:
            assert await store.bulk_get_secrets() == expected
            assert await store.get_secret("team/deep/s04") == {"i": "4"}

    async def test_empty_prefix_gives_empty_bulk(self, vault: Vault) -> None:
        async with VaultSecretStore(vault.meta(vaultKVPrefix=f"none-{uuid.uuid4().hex}")) as store:
            assert await store.bulk_get_secrets() == {}

    async def test_without_prefix(self, vault: Vault, prefix: str) -> None:
        vault.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/x", secret={"x": "1"})
        async with VaultSecretStore(vault.meta(vaultKVUsePrefix="false", vaultKVPrefix="ignored")) as store:
            assert await store.get_secret(f"{prefix}/x") == {"x": "1"}
            assert await store.get_secret("dapr/conftestsecret") == {"conftestsecret": "abcd"}
            everything = await store.bulk_get_secrets()
        assert everything[f"{prefix}/x"] == {"x": "1"}
        assert everything["dapr/secondsecret"] == {"secondsecret": "efgh"}

    async def test_kv_v1_mount(self, vault: Vault) -> None:
        client = vault.client()
        mount = f"kv1-{uuid.uuid4().hex[:8]}"
        client.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
        try:
            client.secrets.kv.v1.create_or_update_secret(path="dapr/one", secret={"a": "1", "b": 2}, mount_point=mount)
            client.secrets.kv.v1.create_or_update_secret(path="dapr/sub/two", secret={"c": "3"}, mount_point=mount)
            async with VaultSecretStore(vault.meta(enginePath=mount)) as store:
                assert SecretStoreFeature.SECRET_VERSIONS not in store.features
                assert await store.get_secret("one") == {"a": "1", "b": "2"}
                assert await store.bulk_get_secrets() == {"one": {"a": "1", "b": "2"}, "sub/two": {"c": "3"}}
                with pytest.raises(SecretNotFoundError):
                    await store.get_secret("missing")
                with pytest.raises(NotSupportedError, match="SECRET_VERSIONS"):
                    await store.get_secret("one", metadata={"version_id": "1"})
        finally:
            client.sys.disable_secrets_engine(path=mount)

    async def test_engine_path_below_the_mount(self, vault: Vault, prefix: str) -> None:
        vault.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/dapr/deep", secret={"d": "1"})
        async with VaultSecretStore(vault.meta(enginePath=f"secret/{prefix}")) as store:
            assert await store.get_secret("deep") == {"d": "1"}
            assert await store.get_secret("deep", metadata={"version_id": "1"}) == {"d": "1"}

    async def test_engine_that_is_not_kv(self, vault: Vault) -> None:
        with pytest.raises(ComponentConfigError, match=r"enginePath.*'cubbyhole'.*KV"):
            await VaultSecretStore(vault.meta(enginePath="cubbyhole")).init()

    async def test_engine_that_is_not_mounted(self, vault: Vault) -> None:
        with pytest.raises(ComponentConfigError, match=r"enginePath.*nothing-here"):
            await VaultSecretStore(vault.meta(enginePath="nothing-here")).init()


async def test_ping(store: VaultSecretStore) -> None:
    await store.ping()


async def test_token_from_file(vault: Vault, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(vault.token + "\n")
    async with VaultSecretStore({"vaultAddr": vault.url, "vaultTokenMountPath": str(token_file)}) as store:
        assert await store.get_secret("conftestsecret") == {"conftestsecret": "abcd"}

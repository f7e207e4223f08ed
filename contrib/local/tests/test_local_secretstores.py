"""secretstores.local.file and secretstores.local.env, on real files and the real environment."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from blockyard.errors import ComponentConfigError, NotSupportedError, SecretNotFoundError
from blockyard.secretstores import SecretStoreFeature
from blockyard_local.secretstores_env import LocalEnvSecretStore
from blockyard_local.secretstores_file import LocalFileSecretStore

SECRET = "s3cret-value-7f"
DOC = {"db": {"password": SECRET, "port": 5432, "tls": True, "opt": None}, "list": ["x", "y"], "plain": "v"}


@pytest.fixture
def secrets_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps(DOC))
    return path


async def test_file_flattened_layout(secrets_file: Path) -> None:
    async with LocalFileSecretStore({"secretsFile": str(secrets_file)}) as store:
        assert store.features == frozenset()
        assert await store.get_secret("db:password") == {"db:password": SECRET}
        assert await store.get_secret("db:port") == {"db:port": "5432"}
        assert await store.get_secret("db:tls") == {"db:tls": "true"}
        assert await store.get_secret("db:opt") == {"db:opt": ""}
        assert await store.get_secret("list:1") == {"list:1": "y"}
        assert await store.get_secret("plain") == {"plain": "v"}
        with pytest.raises(SecretNotFoundError):
            await store.get_secret("db")
        bulk = await store.bulk_get_secrets()
        assert bulk["db:password"] == {"db:password": SECRET}
        assert len(bulk) == 7


async def test_file_nested_separator(secrets_file: Path) -> None:
    async with LocalFileSecretStore({"secretsFile": str(secrets_file), "nestedSeparator": "."}) as store:
        assert await store.get_secret("db.password") == {"db.password": SECRET}


async def test_file_multi_valued_layout(secrets_file: Path) -> None:
    async with LocalFileSecretStore({"secretsFile": str(secrets_file), "multiValued": "true"}) as store:
        assert store.features == {SecretStoreFeature.MULTIPLE_KEY_VALUES_PER_SECRET}
        assert await store.get_secret("db") == {"password": SECRET, "port": "5432", "tls": "true", "opt": ""}
        assert await store.get_secret("plain") == {"plain": "v"}
        assert await store.get_secret("list") == {"0": "x", "1": "y"}
        assert set(await store.bulk_get_secrets()) == {"db", "list", "plain"}


async def test_file_versions_are_not_supported(secrets_file: Path) -> None:
    async with LocalFileSecretStore({"secretsFile": str(secrets_file)}) as store:
        with pytest.raises(NotSupportedError):
            await store.get_secret("plain", metadata={"version_id": "1"})


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot be read"),
        ("{not json, " + SECRET, "not valid JSON"),
        (json.dumps([SECRET]), "JSON object"),
        (b"\xff\xfe" + SECRET.encode(), "not UTF-8"),
        ("dir", "cannot be read"),
    ],
)
async def test_file_bad_files_fail_at_init_without_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str | bytes | None, expected: str
) -> None:
    path = tmp_path / "secrets.json"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    store = LocalFileSecretStore({"secretsFile": str(path)}, name="files")
    with caplog.at_level(logging.DEBUG), pytest.raises(ComponentConfigError, match=expected) as info:
        await store.init()
    assert info.value.field == "secretsFile"
    assert str(path) in str(info.value)
    assert SECRET not in str(info.value)
    assert SECRET not in caplog.text


def test_file_requires_secrets_file() -> None:
    with pytest.raises(ComponentConfigError, match="secretsFile"):
        LocalFileSecretStore({})


async def test_file_secrets_stay_out_of_reprs_logs_and_errors(
    secrets_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        async with LocalFileSecretStore({"secretsFile": str(secrets_file)}) as store:
            await store.get_secret("db:password")
            with pytest.raises(SecretNotFoundError) as info:
                await store.get_secret("nope")
            assert SECRET not in repr(store)
            assert SECRET not in str(info.value)
    assert SECRET not in caplog.text


async def test_env_get_and_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("conftestsecret", "abcd")
    monkeypatch.delenv("no_such_secret_var", raising=False)
    async with LocalEnvSecretStore() as store:
        assert await store.get_secret("conftestsecret") == {"conftestsecret": "abcd"}
        with pytest.raises(SecretNotFoundError, match="no_such_secret_var"):
            await store.get_secret("no_such_secret_var")


async def test_env_prefix_and_bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYTEST_one", "1")
    monkeypatch.setenv("BYTEST_two", SECRET)
    monkeypatch.setenv("OTHER_three", "3")
    async with LocalEnvSecretStore({"prefix": "BYTEST_"}) as store:
        assert await store.get_secret("one") == {"one": "1"}
        with pytest.raises(SecretNotFoundError):
            await store.get_secret("OTHER_three")
        assert await store.bulk_get_secrets() == {"one": {"one": "1"}, "two": {"two": SECRET}}


@pytest.mark.parametrize("name", ["APP_API_TOKEN", "DAPR_API_TOKEN", "dapr_http_port"])
async def test_env_denies_reserved_variables(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, SECRET)
    async with LocalEnvSecretStore() as store:
        with pytest.raises(SecretNotFoundError, match="reserved") as info:
            await store.get_secret(name)
        assert SECRET not in str(info.value)
        assert name not in await store.bulk_get_secrets()


async def test_env_reserved_through_a_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAPR_X", SECRET)
    async with LocalEnvSecretStore({"prefix": "DAPR_"}) as store:
        with pytest.raises(SecretNotFoundError):
            await store.get_secret("X")
        assert await store.bulk_get_secrets() == {}

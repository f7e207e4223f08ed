"""Fixtures: a real Vault-compatible server (the launcher's ``vault`` backend, else an own OpenBao dev server)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from blockyard_vault.secretstore import VaultSecretStore
from blockyard_vault.testing import ENABLE_COMMAND, DevServer, VaultServer, find_bao

SEED: dict[str, dict[str, str]] = {
    "conftestsecret": {"conftestsecret": "abcd"},
    "secondsecret": {"secondsecret": "efgh"},
    "multiplekeyvaluessecret": {"first": "1", "second": "2", "third": "3"},
}
SEED_VERSIONS = ({"versioned": "v1"}, {"versioned": "v2"})


def _seed(server: VaultServer) -> None:
    """Write the conformance secrets under secret/dapr/ unless they are there (the launcher seeds too)."""
    import hvac

    kv = server.client().secrets.kv.v2
    wanted = [(name, (data,)) for name, data in SEED.items()] + [("versioned", SEED_VERSIONS)]
    for name, versions in wanted:
        try:
            kv.read_secret_version(path=f"dapr/{name}", raise_on_deleted_version=False)
            continue
        except hvac.exceptions.InvalidPath:
            pass
        for data in versions:
            kv.create_or_update_secret(path=f"dapr/{name}", secret=data)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests reaching a server through these fixtures carry ``backend("vault")``."""
    try:
        from blockyard_conformance.real_backends import mark_backend_fixtures
    except ImportError:  # the kit is not installed: the fixtures start their own server
        return
    mark_backend_fixtures(items, vault="vault", own_server="vault")


def _no_bao() -> None:
    """Not run (or, with backends required, failed) when OpenBao is not installed."""
    try:
        from blockyard_conformance.real_backends import not_run
    except ImportError:
        pytest.skip(f"OpenBao is not installed (enable: {ENABLE_COMMAND})")
    not_run("vault", "OpenBao is not installed", ENABLE_COMMAND)


@pytest.fixture(scope="session")
def vault() -> Iterator[VaultServer]:
    """The shared, seeded server for the whole session."""
    try:
        from blockyard_conformance.real_backends import require_backend
    except ImportError:
        require_backend = None  # type: ignore[assignment]
    if require_backend is not None:
        ep = require_backend("vault")
        server = VaultServer(ep.url, str(ep.params["token"]))
        _seed(server)
        yield server
        return
    if find_bao() is None:
        _no_bao()
    with DevServer() as dev:
        server = VaultServer(dev.url, dev.token)
        _seed(server)
        yield server


@pytest.fixture
def own_server() -> Iterator[DevServer]:
    """A dedicated dev server for destructive tests (sealing)."""
    if find_bao() is None:
        _no_bao()
    with DevServer() as dev:
        yield dev


@pytest.fixture
def prefix(vault: VaultServer) -> Iterator[str]:
    """A fresh KV prefix under secret/ for a test's own secrets; removed afterwards."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    yield name
    client = vault.client()

    def purge(path: str) -> None:
        import hvac

        try:
            keys = client.secrets.kv.v2.list_secrets(path=path)["data"]["keys"]
        except hvac.exceptions.InvalidPath:
            return
        for key in keys:
            if key.endswith("/"):
                purge(path + "/" + key.rstrip("/"))
            else:
                client.secrets.kv.v2.delete_metadata_and_all_versions(path=f"{path}/{key}")

    purge(name)


@pytest.fixture
async def store(vault: VaultServer) -> AsyncIterator[VaultSecretStore]:
    """An initialised store with the default metadata over the seeded server."""
    async with VaultSecretStore(vault.meta(), name="vault") as s:
        yield s

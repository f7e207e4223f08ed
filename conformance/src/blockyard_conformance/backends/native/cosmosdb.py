"""Azure Cosmos DB (SQL API) emulated by ``@vercel/cosmosdb-server``: flavour
``cosmosdb via @vercel/cosmosdb-server X``. Installed with ``blockyard backends install cosmosdb`` (``npm ci``
of the shipped ``npm/cosmosdb/package-lock.json`` into ``~/.cache/blockyard/npm/cosmosdb``).

It serves HTTPS with a self-signed certificate; the azure-cosmos SDK skips verification
for 127.0.0.1 by itself. The account key is the public emulator key. Known limits of the
emulator: no transactional batch, stored procedures, item TTL expiry or OFFSET/LIMIT.

Seeded: database ``conformance`` with container ``conformance`` (partition key ``/partitionKey``,
item TTL on: ``defaultTtl -1``).
"""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path
from typing import IO, Any, ClassVar

from ..paths import npm_dir
from ..recipe import LOOPBACK, Endpoint, NativeRecipe, source_label, spawn, which

_INSTALL = "blockyard backends install cosmosdb"
# The well-known, public key of the Cosmos DB emulators (not a secret).
EMULATOR_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
SEED_DATABASE = "conformance"
SEED_CONTAINER = "conformance"
SEED_PARTITION_KEY = "/partitionKey"

# The emulator's certificate is self-signed; silence urllib3's warning for loopback only
# (the SDK also checks it from background threads, so a local catch_warnings is not enough).
warnings.filterwarnings("ignore", message=r"Unverified HTTPS request is being made to host '127\.0\.0\.1'")


def _package_dir() -> Path | None:
    folder = npm_dir("cosmosdb") / "node_modules" / "@vercel" / "cosmosdb-server"
    return folder if (folder / "lib" / "cli.js").is_file() else None


def _version() -> str:
    folder = _package_dir()
    if folder is None:
        return "?"
    try:
        version: str = json.loads((folder / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"
    return version


class CosmosDBRecipe(NativeRecipe):
    """``node .../lib/cli.js --host 127.0.0.1 -p PORT``; params: masterKey, database, collection."""

    backend: ClassVar[str] = "cosmosdb"
    apt_packages: ClassVar[tuple[str, ...]] = ("nodejs", "npm")
    pip_packages: ClassVar[tuple[str, ...]] = ()
    npm_project: ClassVar[str | None] = "cosmosdb"
    client_modules: ClassVar[tuple[str, ...]] = ("azure.cosmos",)
    default_port: ClassVar[int] = 8081
    startup_timeout: ClassVar[float] = 20.0
    install_hint: ClassVar[str] = _INSTALL

    def missing(self) -> str | None:
        if which("node") is None:
            return f"Node.js is not installed ({_INSTALL})"
        if _package_dir() is None:
            return f"cosmosdb-server is not installed ({_INSTALL})"
        try:
            import azure.cosmos  # noqa: F401
        except ImportError:
            return "azure-cosmos is not installed (pip install 'blockyard-conformance[backends]')"
        return None

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        node, folder = which("node"), _package_dir()
        if node is None or folder is None:
            raise RuntimeError(self.missing())
        cli = folder / "lib" / "cli.js"
        return spawn([node, str(cli), "--host", LOOPBACK, "-p", str(port)], log, cwd=workdir)

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        flavour = f"cosmosdb via @vercel/cosmosdb-server {_version()} (native)"
        return self._endpoint(port, flavour, "native")

    def listening_endpoint(self, port: int, source: str = "listening") -> Endpoint:
        label = source_label(source)
        flavour = "cosmosdb via the Microsoft emulator" if source == "docker" else "cosmosdb"
        return self._endpoint(port, f"{flavour} ({label})", source)

    def _endpoint(self, port: int, flavour: str, source: str) -> Endpoint:
        return Endpoint(
            backend=self.backend,
            flavour=flavour,
            host=LOOPBACK,
            port=port,
            url=f"https://{LOOPBACK}:{port}/",
            source=source,
            params={
                "masterKey": EMULATOR_KEY,
                "database": SEED_DATABASE,
                "collection": SEED_CONTAINER,
            },
        )

    def _client(self, endpoint: Endpoint) -> Any:
        from azure.cosmos import CosmosClient

        return CosmosClient(
            endpoint.url,
            credential=endpoint.params.get("masterKey", EMULATOR_KEY),
            connection_timeout=3,
            retry_total=0,
            connection_verify=False,
        )

    def ready(self, endpoint: Endpoint) -> bool:
        try:
            list(self._client(endpoint).list_databases(max_item_count=1))
        except Exception:
            return False
        return True

    def seed(self, endpoint: Endpoint) -> None:
        from azure.cosmos import PartitionKey

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client = self._client(endpoint)
            database = client.create_database_if_not_exists(SEED_DATABASE)
            database.create_container_if_not_exists(
                SEED_CONTAINER, partition_key=PartitionKey(path=SEED_PARTITION_KEY), default_ttl=-1
            )

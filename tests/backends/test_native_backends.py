"""Every native recipe of this package against its real server: start, probe with the real
client, check the seeded fixtures, stop, and leave no process. A recipe whose server is not
installed here is skipped with its install hint (never passed)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from blockyard_conformance.backends import procs
from blockyard_conformance.backends.launcher import Launcher
from blockyard_conformance.backends.native import load_recipe
from blockyard_conformance.backends.recipe import Endpoint, NativeRecipe, port_open
from blockyard_conformance.real_backends import not_run, require_client

pytestmark = pytest.mark.slow

OWN_RECIPES = [
    "redis",
    "redis-auth",
    "rabbitmq",
    "postgresql",
    "mariadb",
    "mosquitto",
    "nats",
    "aws",
    "vault",
    "cosmosdb",
]


def check_vault_seed(endpoint: Endpoint) -> None:
    import hvac

    kv = hvac.Client(url=endpoint.url, token=endpoint.params["token"]).secrets.kv.v2
    secret = kv.read_secret_version(path="dapr/conftestsecret", mount_point="secret", raise_on_deleted_version=False)
    assert secret["data"]["data"] == {"conftestsecret": "abcd"}
    multiple = kv.read_secret_version(
        path="dapr/multiplekeyvaluessecret", mount_point="secret", raise_on_deleted_version=False
    )
    assert multiple["data"]["data"] == {"first": "1", "second": "2", "third": "3"}
    versioned = kv.read_secret_metadata(path="dapr/versioned", mount_point="secret")
    assert versioned["data"]["current_version"] == 2


def check_aws_seed(endpoint: Endpoint) -> None:
    import boto3

    kw = {
        "endpoint_url": endpoint.url,
        "region_name": endpoint.params["region"],
        "aws_access_key_id": endpoint.params["accessKey"],
        "aws_secret_access_key": endpoint.params["secretKey"],
    }
    assert "conformance" in boto3.client("dynamodb", **kw).list_tables()["TableNames"]
    assert boto3.client("secretsmanager", **kw).get_secret_value(SecretId="secondsecret")["SecretString"] == "efgh"
    parameter = boto3.client("ssm", **kw).get_parameter(Name="conftestsecret", WithDecryption=True)
    assert parameter["Parameter"]["Value"] == "abcd"
    buckets = {b["Name"] for b in boto3.client("s3", **kw).list_buckets()["Buckets"]}
    assert "conformance" in buckets


def check_cosmosdb_seed(endpoint: Endpoint) -> None:
    from azure.cosmos import CosmosClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = CosmosClient(endpoint.url, credential=endpoint.params["masterKey"])
        container = client.get_database_client("conformance").get_container_client("conformance")
        container.upsert_item({"id": "probe", "partitionKey": "p", "value": 1})
        assert container.read_item("probe", partition_key="p")["value"] == 1


def require_client_modules(recipe: NativeRecipe) -> None:
    for module in recipe.client_modules:
        require_client(module, recipe.backend)


SEED_CHECKS = {"vault": check_vault_seed, "aws": check_aws_seed, "cosmosdb": check_cosmosdb_seed}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.backend(n, own=True)) for n in OWN_RECIPES])
def test_native_backend_starts_answers_and_stops_cleanly(name: str, launcher: Launcher, state_dir: Path) -> None:
    recipe = load_recipe(name)
    assert recipe is not None
    require_client_modules(recipe)
    reason = recipe.missing()
    if reason is not None:
        not_run(name, reason, recipe.install_hint or f"blockyard backends install {name}")
    endpoint = launcher.up(name, reuse=False)  # its own port, whatever holds the standard one
    assert endpoint.source == "native"
    assert endpoint.host == "127.0.0.1"
    assert "(native)" in endpoint.flavour
    assert recipe.ready(endpoint)
    if name in SEED_CHECKS:
        SEED_CHECKS[name](endpoint)
    (row,) = launcher.status(name)
    assert row.state == "ready"
    assert row.pid is not None
    pgid = row.pid
    assert launcher.down(name) == [name]
    assert procs.group_members(pgid) == []
    assert not port_open(endpoint.port)
    assert not any((state_dir / name / "work").glob("*"))

"""What the suites cannot know: refused credentials, unreachable endpoints, unknown resources,
oversized items, throttling, and secrets kept out of errors and logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from aws_servers import Aws, MotoProcess, free_port

from blockyard.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ComponentConfigError,
    InvalidRequestError,
)
from blockyard.state import SetRequest
from blockyard_aws.dynamodb import DynamoDBStateStore
from blockyard_aws.s3 import S3Binding
from blockyard_aws.secretsmanager import SecretsManagerSecretStore
from blockyard_aws.snssqs import SnsSqsPubSub
from blockyard_aws.sqs import SqsBinding

SECRET_KEY = "blockyard-Secret-Key-0123456789abcdefgh"


@pytest.fixture
def authenticating_moto(own_moto: MotoProcess) -> Iterator[MotoProcess]:
    """Our own moto with IAM authentication on (moto's ``reset-auth``), turned off afterwards."""
    own_moto.post("/moto-api/reset-auth", b"0")
    yield own_moto
    own_moto.post("/moto-api/reset-auth", b"inf")


async def test_wrong_credentials_raise_authentication_error_without_the_secret(
    authenticating_moto: MotoProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    md = Aws(authenticating_moto.url, access_key="AKIANOTAREALKEY00000", secret_key=SECRET_KEY).metadata(
        table="anything", maxRetries=0
    )
    store = DynamoDBStateStore(md, name="statestore")
    with pytest.raises(AuthenticationError) as raised:
        await store.init()
    text = str(raised.value)
    assert "statestore" in text
    assert "init" in text
    assert "UnrecognizedClientException" in text or "InvalidClientTokenId" in text, text
    assert SECRET_KEY not in text
    assert SECRET_KEY not in repr(store)
    assert SECRET_KEY not in repr(store.meta)
    assert SECRET_KEY not in caplog.text
    await store.close()


async def test_unreachable_endpoint_fails_init_within_the_dial_timeout() -> None:
    md = Aws(f"http://127.0.0.1:{free_port()}").metadata(table="t", dialTimeout="1s", maxRetries="0")
    store = DynamoDBStateStore(md, name="statestore")
    with pytest.raises(BackendUnavailableError) as raised:
        await store.init()
    assert "statestore" in str(raised.value)
    await store.close()


async def test_unknown_table_is_named(aws: Aws) -> None:
    store = DynamoDBStateStore(aws.metadata(table="blockyard-no-such-table"), name="statestore")
    with pytest.raises(ComponentConfigError) as raised:
        await store.init()
    assert "blockyard-no-such-table" in str(raised.value)
    assert raised.value.field == "table"
    await store.close()


async def test_wrong_partition_key_is_named(aws: Aws, table: str) -> None:
    store = DynamoDBStateStore(aws.metadata(table=table, partitionKey="id"), name="statestore")
    with pytest.raises(ComponentConfigError) as raised:
        await store.init()
    assert "partitionKey" in str(raised.value)
    assert "'key'" in str(raised.value)
    await store.close()


async def test_unknown_bucket_is_named(aws: Aws) -> None:
    binding = S3Binding(aws.metadata(bucket="blockyard-no-such-bucket"), name="s3")
    with pytest.raises(ComponentConfigError) as raised:
        await binding.init()
    assert "blockyard-no-such-bucket" in str(raised.value)
    await binding.close()


async def test_unknown_queue_is_named(aws: Aws) -> None:
    binding = SqsBinding(aws.metadata(queueName="blockyard-no-such-queue"), name="sqs")
    with pytest.raises(ComponentConfigError) as raised:
        await binding.init()
    assert "blockyard-no-such-queue" in str(raised.value)
    await binding.close()


async def test_unmanaged_entities_must_exist(aws: Aws, ns: str) -> None:
    async with SnsSqsPubSub(aws.metadata(disableEntityManagement="true"), name="pubsub") as broker:
        with pytest.raises(ComponentConfigError) as raised:
            await broker.publish(ns, {"x": 1})
        assert ns in str(raised.value)

        async def handler(message: object) -> None:
            return None

        with pytest.raises(ComponentConfigError):
            await broker.subscribe(ns, handler)


async def test_item_over_400_kb_is_refused_before_sending(aws: Aws, table: str) -> None:
    async with DynamoDBStateStore(aws.metadata(table=table), name="statestore") as store:
        with pytest.raises(InvalidRequestError) as raised:
            await store.set("big", b"x" * (400 * 1024))
        assert "400 KB" in str(raised.value)
        assert "'big'" in str(raised.value)
        assert (await store.get("big")).value is None
        await store.set("fits", b"x" * (390 * 1024))
        assert (await store.get("fits")).value == b"x" * (390 * 1024)


async def test_item_size_counts_utf8_bytes_not_characters(aws: Aws, table: str) -> None:
    """DynamoDB counts a string's UTF-8 bytes: 150,000 three-byte characters (450 KB) are over the limit."""
    text = "\u20ac" * 150_000
    async with DynamoDBStateStore(aws.metadata(table=table), name="statestore") as store:
        with pytest.raises(InvalidRequestError) as raised:
            await store.set("wide", text.encode())
        assert "400 KB" in str(raised.value)
        assert "450" in str(raised.value), "the size named is the item's size in bytes"


def _own_table(own_moto: MotoProcess, name: str) -> None:
    own_moto.aws().client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


async def test_unprocessed_batch_items_are_retried(own_moto: MotoProcess) -> None:
    _own_table(own_moto, "unprocessed")
    aws = own_moto.aws()
    async with DynamoDBStateStore(aws.metadata(table="unprocessed"), name="statestore") as store:
        own_moto.inject("DynamoDB_20120810.BatchWriteItem", 2, code="Unprocessed")
        await store.bulk_set([SetRequest(f"k{i}", i) for i in range(30)])
        assert own_moto.faults() == {"served": 2, "remaining": 0}
        own_moto.inject("DynamoDB_20120810.BatchGetItem", 1, code="Unprocessed")
        assert [item.json() for item in await store.bulk_get([f"k{i}" for i in range(30)])] == list(range(30))
        assert own_moto.faults() == {"served": 1, "remaining": 0}


async def test_assumed_role_credentials_sign_the_requests(own_moto: MotoProcess) -> None:
    _own_table(own_moto, "assumed")
    md = own_moto.aws().metadata(
        table="assumed", assumeRoleArn="arn:aws:iam::123456789012:role/blockyard", sessionName="blockyard-test"
    )
    keys: list[str] = []
    async with DynamoDBStateStore(md, name="statestore") as store:
        store._clients["dynamodb"].meta.events.register(
            "before-send", lambda request, **_: keys.append(request.headers["Authorization"].decode())
        )
        await store.set("k", 1)
    assert keys, "no request was sent"
    assert all("Credential=ASIA" in k for k in keys), "requests must be signed with the assumed role's key"


async def test_throttling_is_retried_with_backoff(own_moto: MotoProcess) -> None:
    _own_table(own_moto, "throttled")
    aws = own_moto.aws()
    async with DynamoDBStateStore(aws.metadata(table="throttled", maxRetries="3"), name="statestore") as store:
        await store.set("k", b"v")
        own_moto.inject("DynamoDB_20120810.GetItem", 2)
        assert (await store.get("k")).value == b"v"
        assert own_moto.faults() == {"served": 2, "remaining": 0}, "both throttled attempts must have been retried"

        own_moto.inject("DynamoDB_20120810.GetItem", 10)
        with pytest.raises(BackendUnavailableError) as raised:
            await store.get("k")
        assert "ThrottlingException" in str(raised.value)
        assert own_moto.faults() == {"served": 4, "remaining": 6}, "1 attempt + maxRetries retries, then give up"
        own_moto.inject("DynamoDB_20120810.GetItem", 0)


async def test_secret_values_stay_out_of_debug_logs(aws: Aws, ns: str, caplog: pytest.LogCaptureFixture) -> None:
    value = f"s3cr3t-{ns}-value"
    aws.client("secretsmanager").create_secret(Name=ns, SecretString=value)
    caplog.set_level(logging.DEBUG)
    async with SecretsManagerSecretStore(aws.metadata(), name="secrets") as store:
        assert await store.get_secret(ns) == {ns: value}
        everything = await store.bulk_get_secrets()
        assert everything[ns] == {ns: value}
    assert "botocore" in caplog.text or caplog.records, "DEBUG logging was not captured at all"
    assert value not in caplog.text
    aws.client("secretsmanager").delete_secret(SecretId=ns, ForceDeleteWithoutRecovery=True)

"""Secret stores and the SQS binding beyond the suites: stages, prefixes, acknowledgement."""

from __future__ import annotations

import asyncio

import pytest
from aws_servers import Aws, MotoProcess

from blockyard.bindings import BindingEvent
from blockyard.errors import InvalidRequestError, SecretNotFoundError
from blockyard.subscription import HandlerResult
from blockyard_aws.parameterstore import ParameterStoreSecretStore
from blockyard_aws.secretsmanager import SecretsManagerSecretStore
from blockyard_aws.sqs import SqsBinding


async def test_version_stage_reads_the_previous_value(aws: Aws, ns: str) -> None:
    client = aws.client("secretsmanager")
    client.create_secret(Name=ns, SecretString="first")
    client.put_secret_value(SecretId=ns, SecretString="second")
    async with SecretsManagerSecretStore(aws.metadata(), name="secrets") as store:
        assert await store.get_secret(ns) == {ns: "second"}
        assert await store.get_secret(ns, metadata={"version_stage": "AWSPREVIOUS"}) == {ns: "first"}
        with pytest.raises(SecretNotFoundError):
            await store.get_secret(ns, metadata={"version_stage": "NOSUCHSTAGE"})
    client.delete_secret(SecretId=ns, ForceDeleteWithoutRecovery=True)


async def test_parameter_prefix_string_types_and_versions(aws: Aws, ns: str) -> None:
    ssm = aws.client("ssm")
    prefix = f"/{ns}/"
    ssm.put_parameter(Name=f"{prefix}plain", Value="p", Type="String")
    ssm.put_parameter(Name=f"{prefix}list", Value="a,b", Type="StringList")
    ssm.put_parameter(Name=f"{prefix}secure", Value="s1", Type="SecureString")
    ssm.put_parameter(Name=f"{prefix}secure", Value="s2", Type="SecureString", Overwrite=True)
    ssm.put_parameter(Name=f"/other-{ns}/plain", Value="elsewhere", Type="String")
    async with ParameterStoreSecretStore(aws.metadata(prefix=prefix), name="params") as store:
        assert await store.get_secret("secure") == {"secure": "s2"}
        assert await store.get_secret("secure", metadata={"version_id": "1"}) == {"secure": "s1"}
        assert await store.bulk_get_secrets() == {
            "plain": {"plain": "p"}, "list": {"list": "a,b"}, "secure": {"secure": "s2"}
        }  # fmt: skip
        with pytest.raises(SecretNotFoundError):
            await store.get_secret("secure", metadata={"version_id": "x"})
        with pytest.raises(InvalidRequestError):
            await store.get_secret("secure", metadata={"version_stage": "AWSCURRENT"})


async def test_sqs_message_is_deleted_only_after_the_handler_succeeded(aws: Aws, ns: str) -> None:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=ns)["QueueUrl"]
    calls: list[BindingEvent] = []
    done = asyncio.Event()

    async def handler(event: BindingEvent) -> HandlerResult | None:
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("first delivery fails")
        if len(calls) == 2:
            return HandlerResult.RETRY
        done.set()
        return None

    async with SqsBinding(aws.metadata(queueName=ns), name="sqs") as binding, await binding.read(handler):
        await binding.invoke("create", {"job": 1}, metadata={"origin": "test"})
        await asyncio.wait_for(done.wait(), 60)
    assert [e.json() for e in calls] == [{"job": 1}] * 3
    assert calls[2].metadata == {"origin": "test"}
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    sqs.delete_queue(QueueUrl=url)


async def test_bulk_reads_page_through_every_secret_and_parameter(own_moto: MotoProcess) -> None:
    aws = own_moto.aws()
    secrets, ssm = aws.client("secretsmanager"), aws.client("ssm")

    def seed() -> None:
        for i in range(105):  # ListSecrets pages hold 100
            secrets.create_secret(Name=f"paged-{i:03d}", SecretString=f"s{i}")
        for i in range(60):  # DescribeParameters pages hold 50
            ssm.put_parameter(Name=f"/paged/p{i:02d}", Value=f"p{i}", Type="SecureString")

    await asyncio.to_thread(seed)
    async with SecretsManagerSecretStore(aws.metadata(), name="secrets") as store:
        everything = await store.bulk_get_secrets()
    assert {n: v for n, v in everything.items() if n.startswith("paged-")} == {
        f"paged-{i:03d}": {f"paged-{i:03d}": f"s{i}"} for i in range(105)
    }
    async with ParameterStoreSecretStore(aws.metadata(prefix="/paged/"), name="params") as params:
        assert await params.bulk_get_secrets() == {f"p{i:02d}": {f"p{i:02d}": f"p{i}"} for i in range(60)}

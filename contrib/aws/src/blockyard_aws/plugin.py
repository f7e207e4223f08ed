"""Entry point of ``blockyard-aws`` (group ``blockyard``). Light: imports neither boto3 nor botocore."""

from __future__ import annotations

from pathlib import Path

from blockyard.hookspecs import hookimpl
from blockyard.registry import ComponentSpec

__all__ = ["BLOCKYARD_CONTRACT", "SPECS", "blockyard_components", "blockyard_conformance_cases"]

#: The Blockyard plugin contract this plugin implements (see :mod:`blockyard.contract`).
BLOCKYARD_CONTRACT = "1.0"

_DIST = "blockyard-aws"

SPECS: tuple[ComponentSpec, ...] = (
    ComponentSpec(
        "state",
        "aws.dynamodb",
        "blockyard_aws.dynamodb:DynamoDBStateStore",
        status="alpha",
        features=("ETAG", "FIRST_WRITE", "TRANSACTIONAL", "TTL", "TTL_EXPIRE_TIME"),
        description="DynamoDB state store: conditional writes, TransactWriteItems, TTL hidden on read",
        distribution=_DIST,
    ),
    ComponentSpec(
        "pubsub",
        "aws.snssqs",
        "blockyard_aws.snssqs:SnsSqsPubSub",
        status="alpha",
        features=("BULK_PUBSUB", "CONSUMER_GROUPS", "ORDERED", "REDELIVERY"),
        aliases=("snssqs",),
        description="SNS topics fanned out to one SQS queue per consumer group, at-least-once",
        distribution=_DIST,
    ),
    ComponentSpec(
        "bindings",
        "aws.s3",
        "blockyard_aws.s3:S3Binding",
        status="alpha",
        operations=("bulkcreate", "bulkdelete", "bulkget", "create", "delete", "get", "list", "presign"),
        direction="output",
        description="S3 objects: create, get, delete, list, presign and their bulk forms",
        distribution=_DIST,
    ),
    ComponentSpec(
        "bindings",
        "aws.sqs",
        "blockyard_aws.sqs:SqsBinding",
        status="alpha",
        operations=("create",),
        direction="input,output",
        description="SQS queue: send (create) and read, deleting a message after its handler succeeded",
        distribution=_DIST,
    ),
    ComponentSpec(
        "secretstores",
        "aws.secretmanager",
        "blockyard_aws.secretsmanager:SecretsManagerSecretStore",
        status="alpha",
        features=("MULTIPLE_KEY_VALUES_PER_SECRET", "SECRET_VERSIONS"),
        aliases=("aws.secretsmanager",),
        description="AWS Secrets Manager: versions and stages, JSON multi-value secrets, paged bulk",
        distribution=_DIST,
    ),
    ComponentSpec(
        "secretstores",
        "aws.parameterstore",
        "blockyard_aws.parameterstore:ParameterStoreSecretStore",
        status="alpha",
        features=("SECRET_VERSIONS",),
        description="SSM Parameter Store: prefix, SecureString decryption, versions",
        distribution=_DIST,
    ),
)


@hookimpl
def blockyard_components() -> list[ComponentSpec]:
    """The six AWS components."""
    return list(SPECS)


@hookimpl(optionalhook=True)
def blockyard_conformance_cases() -> list[Path]:
    """The conformance cases of the AWS components (run against the ``aws`` backend, moto)."""
    return [Path(__file__).parent / "conformance" / "cases.yaml"]

"""Registration, the shared AWS metadata, and the plugin module staying light."""

from __future__ import annotations

import subprocess
import sys

import pytest

from blockyard.bindings import OutputBinding
from blockyard.errors import ComponentConfigError
from blockyard.registry import get_registry
from blockyard_aws.client import AwsMetadata
from blockyard_aws.dynamodb import DynamoDBStateStore
from blockyard_aws.plugin import SPECS


def test_listing_components_imports_no_sdk() -> None:
    code = "import sys, blockyard_aws.plugin; sys.exit(1 if {'boto3', 'botocore'} & set(sys.modules) else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_every_spec_resolves_to_a_class_with_its_features() -> None:
    for spec in SPECS:
        cls = get_registry().resolve(spec.type)
        assert set(spec.features) == {str(f) for f in cls.features}, spec.type
        if spec.operations:
            assert issubclass(cls, OutputBinding), spec.type
            assert set(spec.operations) == set(cls.operations), spec.type


def test_daprs_other_names_resolve() -> None:
    assert get_registry().resolve("pubsub.snssqs").type == "pubsub.aws.snssqs"
    assert get_registry().resolve("secretstores.aws.secretsmanager").type == "secretstores.aws.secretmanager"


def test_region_alias_and_sensitive_keys() -> None:
    md = AwsMetadata.parse({"awsRegion": "eu-west-1", "accessKey": "AKIA", "secretKey": "s3cr3t-value"})
    assert md.region == "eu-west-1"
    assert "s3cr3t-value" not in repr(md)
    assert {e["name"]: e.get("sensitive") for e in AwsMetadata.dapr_metadata()}["secretKey"] is True


@pytest.mark.parametrize(
    ("props", "named"),
    [
        ({"accessKey": "AKIA"}, "secretKey"),
        ({"sessionToken": "tok"}, "sessionToken"),
        ({"trustAnchorArn": "arn:aws:rolesanywhere:x"}, "trustAnchorArn"),
        ({"endpoint": "localhost:4566"}, "endpoint"),
        ({"maxRetries": "-1"}, "maxRetries"),
    ],
)
def test_bad_metadata_is_named(props: dict[str, str], named: str) -> None:
    with pytest.raises(ComponentConfigError) as raised:
        DynamoDBStateStore({"table": "t", **props})
    assert named in str(raised.value)
    assert "tok" not in str(raised.value)


def test_table_is_required() -> None:
    with pytest.raises(ComponentConfigError) as raised:
        DynamoDBStateStore({"region": "us-east-1"})
    assert "table" in str(raised.value)


def test_the_conformance_cases_are_registered() -> None:
    discover = pytest.importorskip("blockyard_conformance.cases").discover_cases
    ids = {case.id for case in discover()}
    assert {
        "state.aws.dynamodb",
        "pubsub.aws.snssqs",
        "pubsub.aws.snssqs-fifo",
        "bindings.aws.s3",
        "bindings.aws.sqs",
        "secretstores.aws.secretmanager",
        "secretstores.aws.secretmanager-multi",
        "secretstores.aws.parameterstore",
    } <= ids

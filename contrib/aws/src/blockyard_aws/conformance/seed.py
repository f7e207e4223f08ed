"""Fixtures the AWS conformance cases create for themselves (case ``setup`` functions).

Each function gets the launcher's endpoint and the case's run id, creates what the case needs,
named from the run id so runs sharing one server never meet, and returns the cleanup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

__all__ = [
    "SECRET_VALUES",
    "VERSION_1",
    "VERSION_2",
    "dynamodb_table",
    "parameters",
    "queue",
    "s3_bucket",
    "secrets",
    "secrets_multi_valued",
]

SECRET_VALUES = {"conftestsecret": "abcd", "secondsecret": "efgh"}
VERSION_1 = "blockyard-conformance-version-0000000000000001"
VERSION_2 = "blockyard-conformance-version-0000000000000002"
Cleanup = Callable[[], None]


def _client(endpoint: Any, service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint.url,
        region_name=endpoint.params.get("region", "us-east-1"),
        aws_access_key_id=endpoint.params.get("accessKey", "test"),
        aws_secret_access_key=endpoint.params.get("secretKey", "test"),
    )


def name_for(run_id: str) -> str:
    """The table, bucket or queue name of a run."""
    return f"blockyard-{run_id}"


def dynamodb_table(endpoint: Any, run_id: str) -> Cleanup:
    """Table ``blockyard-<run_id>``, hash key ``key`` (string), TTL on ``expiresAt``."""
    client = _client(endpoint, "dynamodb")
    name = name_for(run_id)
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"})
    return lambda: client.delete_table(TableName=name)


def s3_bucket(endpoint: Any, run_id: str) -> Cleanup:
    """Bucket ``blockyard-<run_id>``; the cleanup empties and deletes it."""
    client = _client(endpoint, "s3")
    name = name_for(run_id)
    client.create_bucket(Bucket=name)

    def cleanup() -> None:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=obj["Key"])
        client.delete_bucket(Bucket=name)

    return cleanup


def queue(endpoint: Any, run_id: str) -> Cleanup:
    """Queue ``blockyard-<run_id>``."""
    client = _client(endpoint, "sqs")
    url = client.create_queue(QueueName=name_for(run_id))["QueueUrl"]
    return lambda: client.delete_queue(QueueUrl=url)


def _secrets(endpoint: Any, run_id: str, values: dict[str, str], versions: tuple[str, str] = ("v1", "v2")) -> Cleanup:
    client = _client(endpoint, "secretsmanager")
    made: list[str] = []
    for name, value in values.items():
        client.create_secret(Name=name, SecretString=value, ClientRequestToken=VERSION_1)
        made.append(name)
    versioned = f"versioned-{run_id}"
    client.create_secret(Name=versioned, SecretString=versions[0], ClientRequestToken=VERSION_1)
    client.put_secret_value(SecretId=versioned, SecretString=versions[1], ClientRequestToken=VERSION_2)
    made.append(versioned)

    def cleanup() -> None:
        for name in made:
            with contextlib.suppress(Exception):
                client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)

    return cleanup


def secrets(endpoint: Any, run_id: str) -> Cleanup:
    """Secrets ``conftestsecret-<run_id>`` = ``abcd``, ``secondsecret-<run_id>`` = ``efgh`` and
    ``versioned-<run_id>`` (``v1`` then ``v2``), every first version with id :data:`VERSION_1`."""
    return _secrets(endpoint, run_id, {f"{k}-{run_id}": v for k, v in SECRET_VALUES.items()})


def secrets_multi_valued(endpoint: Any, run_id: str) -> Cleanup:
    """As :func:`secrets`, the values as JSON objects (``{"conftestsecret-<run_id>": "abcd"}``),
    plus ``multiplekeyvaluessecret-<run_id>`` = ``{"first": "1", "second": "2", "third": "3"}``;
    the versions of ``versioned-<run_id>`` are ``{"value": "v1"}`` and ``{"value": "v2"}``."""
    values = {f"{k}-{run_id}": f'{{"{k}-{run_id}": "{v}"}}' for k, v in SECRET_VALUES.items()}
    values[f"multiplekeyvaluessecret-{run_id}"] = '{"first": "1", "second": "2", "third": "3"}'
    return _secrets(endpoint, run_id, values, ('{"value": "v1"}', '{"value": "v2"}'))


def parameters(endpoint: Any, run_id: str) -> Cleanup:
    """SecureString parameters under ``/blockyard/<run_id>/``: ``conftestsecret``, ``secondsecret``
    and ``versioned`` (version 1 ``v1``, version 2 ``v2``)."""
    client = _client(endpoint, "ssm")
    prefix = f"/blockyard/{run_id}/"
    names = []
    for name, value in SECRET_VALUES.items():
        client.put_parameter(Name=prefix + name, Value=value, Type="SecureString")
        names.append(prefix + name)
    client.put_parameter(Name=prefix + "versioned", Value="v1", Type="SecureString")
    client.put_parameter(Name=prefix + "versioned", Value="v2", Type="SecureString", Overwrite=True)
    names.append(prefix + "versioned")
    return lambda: client.delete_parameters(Names=names) and None

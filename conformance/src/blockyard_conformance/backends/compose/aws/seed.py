"""Create the AWS conformance fixtures on an emulated endpoint (idempotent).

Reads AWS_ENDPOINT_URL, AWS_DEFAULT_REGION and the credentials from the environment.
Fixtures: DynamoDB table ``conformance`` (hash key ``key``), S3 bucket ``conformance``,
Secrets Manager secrets and SSM SecureString parameters conftestsecret=abcd and
secondsecret=efgh.
"""

import os
from typing import Any

import boto3

SECRETS = {"conftestsecret": "abcd", "secondsecret": "efgh"}


def client(service: str) -> Any:
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def main() -> None:
    dynamodb = client("dynamodb")
    if "conformance" not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(
            TableName="conformance",
            KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    s3 = client("s3")
    if "conformance" not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket="conformance")
    secrets = client("secretsmanager")
    existing = {s["Name"] for s in secrets.list_secrets().get("SecretList", [])}
    ssm = client("ssm")
    for name, value in SECRETS.items():
        if name not in existing:
            secrets.create_secret(Name=name, SecretString=value)
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
    print("seed: aws fixtures ready")


if __name__ == "__main__":
    main()

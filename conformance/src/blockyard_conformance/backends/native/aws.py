"""AWS emulated by moto's server (``pip install 'moto[server]'``): flavour ``aws via moto X``.

One endpoint serves every AWS API moto emulates (DynamoDB, S3, SQS, SNS, Secrets Manager,
SSM, ...); use it with ``endpoint_url``, region ``us-east-1`` and the dummy credentials in
``params``. Known limit: DynamoDB TTL is never enforced by moto.

Seeded fixtures: DynamoDB table ``conformance`` (hash key ``key``, string), S3 bucket
``conformance``, Secrets Manager secrets and SSM SecureString parameters
``conftestsecret`` = ``abcd`` and ``secondsecret`` = ``efgh``.
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path
from typing import IO, Any, ClassVar

from ..recipe import LOOPBACK, Endpoint, NativeRecipe, source_label, spawn, which
from .tools import package_version

_INSTALL = "blockyard backends install aws"
_REGION = "us-east-1"
SEED_SECRETS: dict[str, str] = {"conftestsecret": "abcd", "secondsecret": "efgh"}
SEED_TABLE = "conformance"
SEED_BUCKET = "conformance"


class AwsRecipe(NativeRecipe):
    """``moto_server -H 127.0.0.1 -p PORT``; params: region, accessKey, secretKey."""

    backend: ClassVar[str] = "aws"
    apt_packages: ClassVar[tuple[str, ...]] = ()
    pip_packages: ClassVar[tuple[str, ...]] = ("moto[server]",)
    client_modules: ClassVar[tuple[str, ...]] = ("boto3",)
    default_port: ClassVar[int] = 5000
    startup_timeout: ClassVar[float] = 30.0
    install_hint: ClassVar[str] = _INSTALL

    def missing(self) -> str | None:
        if which("moto_server") is None:
            return f"moto server is not installed ({_INSTALL})"
        try:
            metadata.version("boto3")
        except metadata.PackageNotFoundError:
            return f"boto3 is not installed ({_INSTALL})"
        return None

    def start(self, workdir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        binary = which("moto_server")
        if binary is None:
            raise RuntimeError(self.missing())
        return spawn([binary, "-H", LOOPBACK, "-p", str(port)], log, cwd=workdir)

    def endpoint(self, port: int, workdir: Path) -> Endpoint:
        return self._endpoint(port, f"aws via moto {package_version('moto')} (native)", "native")

    def listening_endpoint(self, port: int, source: str = "listening") -> Endpoint:
        label = source_label(source)
        return self._endpoint(port, f"aws via moto ({label})", source)

    def _endpoint(self, port: int, flavour: str, source: str) -> Endpoint:
        return Endpoint(
            backend=self.backend,
            flavour=flavour,
            host=LOOPBACK,
            port=port,
            url=f"http://{LOOPBACK}:{port}",
            source=source,
            params={"region": _REGION, "accessKey": "test", "secretKey": "test"},
        )

    def _client(self, endpoint: Endpoint, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=endpoint.url,
            region_name=endpoint.params.get("region", _REGION),
            aws_access_key_id=endpoint.params.get("accessKey", "test"),
            aws_secret_access_key=endpoint.params.get("secretKey", "test"),
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}),
        )

    def ready(self, endpoint: Endpoint) -> bool:
        try:
            self._client(endpoint, "dynamodb").list_tables(Limit=1)
        except Exception:
            return False
        return True

    def seed(self, endpoint: Endpoint) -> None:
        """Create the fixtures; existing ones are left as they are (idempotent)."""
        dynamodb = self._client(endpoint, "dynamodb")
        if SEED_TABLE not in dynamodb.list_tables()["TableNames"]:
            dynamodb.create_table(
                TableName=SEED_TABLE,
                KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        s3 = self._client(endpoint, "s3")
        if SEED_BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
            s3.create_bucket(Bucket=SEED_BUCKET)
        secrets = self._client(endpoint, "secretsmanager")
        existing = {s["Name"] for s in secrets.list_secrets().get("SecretList", [])}
        ssm = self._client(endpoint, "ssm")
        for name, value in SEED_SECRETS.items():
            if name not in existing:
                secrets.create_secret(Name=name, SecretString=value)
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)

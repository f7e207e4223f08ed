"""bindings.aws.s3 beyond the suite: generated keys, presigned URLs, base64, bulk operations, list."""

from __future__ import annotations

import asyncio
import base64
import urllib.request
from collections.abc import Iterator

import pytest
from aws_servers import Aws

from blockyard.errors import InvalidRequestError
from blockyard_aws.s3 import S3Binding


def _fetch(url: str) -> bytes:
    """GET ``url`` (a presigned URL) without credentials."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        return bytes(resp.read())


@pytest.fixture
def bucket(aws: Aws, ns: str) -> Iterator[str]:
    client = aws.client("s3")
    client.create_bucket(Bucket=ns)
    yield ns
    for obj in client.list_objects_v2(Bucket=ns).get("Contents", []):
        client.delete_object(Bucket=ns, Key=obj["Key"])
    client.delete_bucket(Bucket=ns)


async def test_create_generates_a_key_and_presigns(aws: Aws, bucket: str) -> None:
    async with S3Binding(aws.metadata(bucket=bucket, forcePathStyle="true"), name="s3") as s3:
        created = await s3.invoke("create", b"hello", metadata={"presignTTL": "5m"})
        key = created.metadata["key"]
        assert len(key) == 36
        assert created.json()["location"].endswith(f"/{bucket}/{key}")
        assert await asyncio.to_thread(_fetch, created.json()["presignURL"]) == b"hello"
        presigned = (await s3.invoke("presign", metadata={"key": key, "presignTTL": "1m"})).json()["presignURL"]
        assert await asyncio.to_thread(_fetch, presigned) == b"hello"
        with pytest.raises(InvalidRequestError):
            await s3.invoke("get")


async def test_base64_options(aws: Aws, bucket: str) -> None:
    md = aws.metadata(bucket=bucket, decodeBase64="true", encodeBase64="true")
    async with S3Binding(md, name="s3") as s3:
        await s3.invoke("create", base64.b64encode(b"\x00\xffbin"), metadata={"key": "b"})
        assert (await s3.invoke("get", metadata={"key": "b"})).data == base64.b64encode(b"\x00\xffbin")
        with pytest.raises(InvalidRequestError):
            await s3.invoke("create", "not base64!", metadata={"key": "c"})
    assert aws.client("s3").get_object(Bucket=bucket, Key="b")["Body"].read() == b"\x00\xffbin"


async def test_bulk_operations_and_list(aws: Aws, bucket: str) -> None:
    async with S3Binding(aws.metadata(bucket=bucket), name="s3") as s3:
        items = [{"key": f"dir/k{i}", "data": f"v{i}"} for i in range(3)]
        created = (await s3.invoke("bulkCreate", items)).json()
        assert [c["key"] for c in created] == ["dir/k0", "dir/k1", "dir/k2"]
        got = (await s3.invoke("bulkGet", ["dir/k1", "dir/missing"])).json()
        assert got == [{"key": "dir/k1", "data": "v1"}, {"key": "dir/missing", "error": "no such object"}]
        page = (await s3.invoke("list", {"prefix": "dir/", "maxResults": 2})).json()
        assert [o["Key"] for o in page["Contents"]] == ["dir/k0", "dir/k1"]
        assert page["IsTruncated"]
        rest = (await s3.invoke("list", {"prefix": "dir/", "marker": page["NextMarker"]})).json()
        assert [o["Key"] for o in rest["Contents"]] == ["dir/k2"]
        assert (await s3.invoke("bulkDelete", ["dir/k0", "dir/k1", "dir/k2"])).json() == [
            {"key": "dir/k0"}, {"key": "dir/k1"}, {"key": "dir/k2"}
        ]  # fmt: skip
        assert (await s3.invoke("get", metadata={"key": "dir/k0"})).data is None

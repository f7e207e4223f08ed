"""``bindings.aws.s3``: an output binding on one S3 bucket.

Operations (request metadata in brackets):

- ``create`` [``key``: generated (a UUID) when missing; ``contentType``; ``storageClass``;
  ``presignTTL``: also return a presigned GET URL] writes the object and returns
  ``{"location", "versionID", "presignURL"?}`` as JSON, the key in the response metadata ``key``.
  With ``decodeBase64: true`` the data is base64 text and its decoded bytes are stored.
- ``get`` [``key``] returns the object's bytes (base64 text with ``encodeBase64: true``), or no
  data when the object does not exist.
- ``delete`` [``key``] deletes the object (a missing one is not an error).
- ``list`` [data ``{"maxResults": 1000, "prefix", "marker", "delimiter"}``] returns the
  ``ListObjects`` page as JSON: ``{"Contents": [{"Key", "Size", "ETag", "LastModified"}, ...],
  "IsTruncated", "NextMarker"}``.
- ``presign`` [``key``, ``presignTTL`` such as ``15m``] returns ``{"presignURL": ...}``.
- ``bulkCreate`` [data: ``[{"key", "data"}, ...]``], ``bulkGet`` [data: ``["key", ...]``],
  ``bulkDelete`` [data: ``["key", ...]``] apply each item; the result is a JSON list with one
  ``{"key", "data"?, "error"?}`` per item, in order (a failed item does not stop the others).

A request without ``key`` where one is needed is an :class:`~blockyard.errors.InvalidRequestError`.
``init()`` checks the bucket exists (:class:`~blockyard.errors.ComponentConfigError` otherwise).

Example::

    import asyncio
    from blockyard_aws.s3 import S3Binding

    async def main() -> None:
        async with S3Binding({"bucket": "reports", "region": "us-east-1"}, name="s3") as s3:
            await s3.invoke("create", b"hello", metadata={"key": "greeting.txt"})
            print((await s3.invoke("get", metadata={"key": "greeting.txt"})).data)

    asyncio.run(main())

Component YAML::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: s3}
    spec:
      type: bindings.aws.s3
      version: v1
      metadata:
        - {name: bucket, value: reports}
        - {name: region, value: us-east-1}
        - {name: forcePathStyle, value: "true"}
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from blockyard.bindings import BindingResponse, InvokeRequest, OutputBinding
from blockyard.errors import ComponentConfigError, InvalidRequestError
from blockyard.metadata import meta, parse_duration
from blockyard_aws.client import AwsClientMixin, AwsMetadata, aws_error_code

__all__ = ["S3Binding", "S3Metadata"]

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_DEFAULT_PRESIGN_TTL = 900


class S3Metadata(AwsMetadata):
    """Metadata of ``bindings.aws.s3``."""

    unsupported: ClassVar[dict[str, str]] = {
        **AwsMetadata.unsupported,
        "filePath": "uploading from a local file is not implemented; send the data",
    }

    bucket: str = meta(description="name of an existing bucket", example="reports")
    force_path_style: bool = meta(False, description="address the bucket in the path, not the host name")
    decode_base64: bool = meta(False, description="create: the data is base64 text; store its decoded bytes")
    encode_base64: bool = meta(False, description="get: return the object as base64 text")
    disable_ssl: bool = meta(False, description="use http:// for the default AWS endpoint", alias="disableSSL")
    insecure_ssl: bool = meta(False, description="do not verify the server's TLS certificate", alias="insecureSSL")


def _json(value: Any) -> bytes:
    return orjson.dumps(value, default=str)


class S3Binding(AwsClientMixin, OutputBinding):
    """Output binding on one S3 bucket; see the module docstring for each operation."""

    type: ClassVar[str] = "bindings.aws.s3"
    Metadata = S3Metadata
    operations: ClassVar[frozenset[str]] = frozenset(
        {"create", "get", "delete", "list", "presign", "bulkcreate", "bulkget", "bulkdelete"}
    )
    aws_services: ClassVar[tuple[str, ...]] = ("s3",)

    def _make_clients(self) -> dict[str, Any]:
        from botocore.config import Config

        clients = super()._make_clients()
        md: S3Metadata = self.meta
        if md.force_path_style or md.disable_ssl or md.insecure_ssl:
            from blockyard_aws.client import _session

            old = clients["s3"]
            config = old.meta.config.merge(Config(s3={"addressing_style": "path"} if md.force_path_style else {}))
            clients["s3"] = _session(md).client(
                "s3", endpoint_url=md.endpoint, config=config, use_ssl=not md.disable_ssl, verify=not md.insecure_ssl
            )
            old.close()
        return clients

    async def _check_resources(self) -> None:
        bucket = self.meta.bucket
        try:
            await self._call("s3", "head_bucket", Bucket=bucket)
        except Exception as exc:
            if aws_error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
                raise ComponentConfigError(
                    f"bucket {bucket!r} does not exist (create it first)", component=self.name, field="bucket"
                ) from None
            raise

    async def _ping(self) -> None:
        await self._call("s3", "head_bucket", Bucket=self.meta.bucket)

    # -- operations ----------------------------------------------------------------------------

    async def _invoke(self, req: InvokeRequest) -> BindingResponse:
        md = req.metadata
        if req.operation == "create":
            key = md.get("key") or str(uuid.uuid4())
            return await self._create(key, req.data or b"", md)
        if req.operation == "get":
            return await self._get(self._key(md))
        if req.operation == "delete":
            await self._call("s3", "delete_object", Bucket=self.meta.bucket, Key=self._key(md))
            return BindingResponse(metadata={"key": self._key(md)})
        if req.operation == "list":
            return await self._list(req.data)
        if req.operation == "presign":
            key = self._key(md)
            url = await self._presign(key, md.get("presignTTL"))
            return BindingResponse(_json({"presignURL": url}), {"key": key}, "application/json")
        return await self._bulk(req.operation, req.data)

    def _key(self, md: Mapping[str, str]) -> str:
        key = md.get("key")
        if not key:
            raise InvalidRequestError("request metadata 'key' (the object key) is required")
        return key

    async def _create(self, key: str, data: bytes, md: Mapping[str, str]) -> BindingResponse:
        if self.meta.decode_base64:
            try:
                data = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidRequestError("decodeBase64 is set, but the data is not base64", key=key) from None
        kwargs: dict[str, Any] = {"Bucket": self.meta.bucket, "Key": key, "Body": data}
        if md.get("contentType") or md.get("Content-Type"):
            kwargs["ContentType"] = md.get("contentType") or md.get("Content-Type")
        if md.get("storageClass"):
            kwargs["StorageClass"] = md["storageClass"]
        resp = await self._call("s3", "put_object", **kwargs)
        location = f"{self._clients['s3'].meta.endpoint_url}/{self.meta.bucket}/{key}"
        out: dict[str, Any] = {"location": location, "versionID": resp.get("VersionId")}
        if md.get("presignTTL"):
            out["presignURL"] = await self._presign(key, md["presignTTL"])
        return BindingResponse(_json(out), {"key": key}, "application/json")

    async def _get(self, key: str) -> BindingResponse:
        def read() -> tuple[bytes, str | None] | None:
            try:
                resp = self._clients["s3"].get_object(Bucket=self.meta.bucket, Key=key)
            except Exception as exc:
                if aws_error_code(exc) in _MISSING:
                    return None
                raise
            return resp["Body"].read(), resp.get("ContentType")

        got = await self._run(read)
        if got is None:
            return BindingResponse(None, {"key": key})
        body, ct = got
        if self.meta.encode_base64:
            return BindingResponse(base64.b64encode(body), {"key": key}, "text/plain")
        return BindingResponse(body, {"key": key}, ct)

    async def _presign(self, key: str, ttl: str | None) -> str:
        try:
            seconds = int(parse_duration(ttl).total_seconds()) if ttl else _DEFAULT_PRESIGN_TTL
        except ValueError:
            raise InvalidRequestError(
                "request metadata 'presignTTL' must be a duration such as '15m'", key=key
            ) from None
        if seconds <= 0:
            raise InvalidRequestError("request metadata 'presignTTL' must be positive", key=key)
        params = {"Bucket": self.meta.bucket, "Key": key}
        url = await self._run(
            self._clients["s3"].generate_presigned_url, "get_object", Params=params, ExpiresIn=seconds
        )
        return str(url)

    async def _list(self, data: bytes | None) -> BindingResponse:
        try:
            opts = orjson.loads(data) if data else {}
        except orjson.JSONDecodeError:
            opts = None
        if not isinstance(opts, dict):
            raise InvalidRequestError('list data must be a JSON object such as {"maxResults": 100, "prefix": "a/"}')
        kwargs: dict[str, Any] = {"Bucket": self.meta.bucket, "MaxKeys": int(opts.get("maxResults") or 1000)}
        for name, arg in (("prefix", "Prefix"), ("marker", "Marker"), ("delimiter", "Delimiter")):
            if opts.get(name):
                kwargs[arg] = str(opts[name])
        resp = await self._call("s3", "list_objects", **kwargs)
        page = {
            "Contents": [
                {"Key": o["Key"], "Size": o.get("Size"), "ETag": o.get("ETag"), "LastModified": o.get("LastModified")}
                for o in resp.get("Contents", [])
            ],
            "CommonPrefixes": [p["Prefix"] for p in resp.get("CommonPrefixes", [])],
            "IsTruncated": bool(resp.get("IsTruncated")),
            "NextMarker": resp.get("NextMarker")
            or (resp["Contents"][-1]["Key"] if resp.get("IsTruncated") and resp.get("Contents") else None),
        }
        return BindingResponse(_json(page), {}, "application/json")

    async def _bulk(self, operation: str, data: bytes | None) -> BindingResponse:
        try:
            items = orjson.loads(data) if data else None
        except orjson.JSONDecodeError:
            items = None
        if not isinstance(items, list):
            raise InvalidRequestError(f"{operation} data must be a JSON list")
        results: list[dict[str, Any]] = []
        for item in items:
            if operation == "bulkcreate":
                ok = isinstance(item, dict) and isinstance(item.get("data"), str)
                key = str(item.get("key") or uuid.uuid4()) if isinstance(item, dict) else ""
            else:
                ok = isinstance(item, str) and bool(item)
                key = item if ok else ""
            if not ok:
                results.append({"key": key or None, "error": "malformed item"})
                continue
            try:
                if operation == "bulkcreate":
                    await self._create(key, item["data"].encode(), {})
                    results.append({"key": key})
                elif operation == "bulkget":
                    got = await self._get(key)
                    entry: dict[str, Any] = {"key": key}
                    if got.data is None:
                        entry["error"] = "no such object"
                    else:
                        entry["data"] = got.data.decode("utf-8", errors="replace")
                    results.append(entry)
                else:
                    await self._call("s3", "delete_object", Bucket=self.meta.bucket, Key=key)
                    results.append({"key": key})
            except Exception as exc:
                results.append({"key": key, "error": str(self._wrap(exc, operation, key).message)})
        return BindingResponse(_json(results), {}, "application/json")

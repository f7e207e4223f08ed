"""``secretstores.aws.parameterstore``: secrets from AWS Systems Manager Parameter Store.

Features: SECRET_VERSIONS.

- ``get_secret(name)`` reads the parameter ``prefix + name`` with decryption (``String``,
  ``StringList`` and ``SecureString``) and returns ``{name: value}``.
- Request metadata ``version_id`` reads that version (``name:version``); a missing parameter or
  version raises :class:`~blockyard.errors.SecretNotFoundError`.
- ``bulk_get_secrets()`` pages through ``DescribeParameters`` filtered by ``prefix`` (every
  parameter without one) and reads them ten at a time with ``GetParameters``; the names are
  returned with the prefix stripped.
- Secret values never appear in logs, reprs or errors.

Example::

    import asyncio
    from blockyard_aws.parameterstore import ParameterStoreSecretStore

    async def main() -> None:
        md = {"region": "us-east-1", "prefix": "/prod/"}
        async with ParameterStoreSecretStore(md, name="params") as store:
            print(await store.get_secret("db-password"))          # reads /prod/db-password

    asyncio.run(main())

Component YAML::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: params}
    spec:
      type: secretstores.aws.parameterstore
      version: v1
      metadata:
        - {name: region, value: us-east-1}
        - {name: prefix, value: /prod/}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from blockyard.errors import InvalidRequestError, SecretNotFoundError
from blockyard.metadata import meta
from blockyard.secretstores import SecretStore, SecretStoreFeature
from blockyard_aws.client import AwsClientMixin, AwsMetadata, aws_error_code

__all__ = ["ParameterStoreMetadata", "ParameterStoreSecretStore"]

_NOT_FOUND = frozenset({"ParameterNotFound", "ParameterVersionNotFound"})


class ParameterStoreMetadata(AwsMetadata):
    """Metadata of ``secretstores.aws.parameterstore``."""

    prefix: str = meta("", description="prefix added to every secret name (and stripped from bulk results)")


class ParameterStoreSecretStore(AwsClientMixin, SecretStore):
    """Secret store on SSM Parameter Store; see the module docstring."""

    type: ClassVar[str] = "secretstores.aws.parameterstore"
    Metadata = ParameterStoreMetadata
    features: ClassVar[frozenset[SecretStoreFeature]] = frozenset({SecretStoreFeature.SECRET_VERSIONS})
    aws_services: ClassVar[tuple[str, ...]] = ("ssm",)

    async def _ping(self) -> None:
        await self._call("ssm", "describe_parameters", MaxResults=1)

    async def _get_secret(self, name: str, metadata: Mapping[str, str]) -> dict[str, str]:
        if metadata.get("version_stage"):
            raise InvalidRequestError("Parameter Store has no version stages; use 'version_id'", key=name)
        full = self.meta.prefix + name
        version = metadata.get("version_id")
        if version:
            if not version.isdigit():
                raise SecretNotFoundError("a Parameter Store version is a positive integer", key=name)
            full = f"{full}:{version}"
        try:
            resp = await self._call("ssm", "get_parameter", Name=full, WithDecryption=True)
        except Exception as exc:
            if aws_error_code(exc) in _NOT_FOUND:
                raise SecretNotFoundError("no such parameter (or version of it)", key=name) from None
            raise
        return {name: str(resp["Parameter"]["Value"])}

    async def _bulk_get_secrets(self, metadata: Mapping[str, str]) -> dict[str, dict[str, str]]:
        prefix: str = self.meta.prefix
        names: list[str] = []
        kwargs: dict[str, Any] = {"MaxResults": 50}
        if prefix:
            kwargs["ParameterFilters"] = [{"Key": "Name", "Option": "BeginsWith", "Values": [prefix]}]
        while True:
            resp = await self._call("ssm", "describe_parameters", **kwargs)
            names += [p["Name"] for p in resp.get("Parameters", []) if p["Name"].startswith(prefix)]
            token = resp.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
        out: dict[str, dict[str, str]] = {}
        for start in range(0, len(names), 10):
            resp = await self._call("ssm", "get_parameters", Names=names[start : start + 10], WithDecryption=True)
            for p in resp.get("Parameters", []):
                short = p["Name"][len(prefix) :]
                out[short] = {short: str(p["Value"])}
        return out

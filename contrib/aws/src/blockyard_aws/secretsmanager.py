"""``secretstores.aws.secretmanager``: secrets from AWS Secrets Manager.

Features: SECRET_VERSIONS; MULTIPLE_KEY_VALUES_PER_SECRET when ``multipleKeyValuesPerSecret`` is true.

- ``get_secret(name)`` reads ``GetSecretValue``: ``{name: SecretString}`` by default; with
  ``multipleKeyValuesPerSecret: true`` the SecretString must be a JSON object, returned as its
  key/value pairs (non-string values as JSON text). A binary secret is returned base64-encoded.
- Request metadata ``version_id`` (a version id) or ``version_stage`` (``AWSCURRENT``,
  ``AWSPREVIOUS``, ...) select a version; a missing secret or version raises
  :class:`~blockyard.errors.SecretNotFoundError`.
- ``bulk_get_secrets()`` pages through ``ListSecrets`` and reads each secret (current version).
- Secret values never appear in logs, reprs or errors.

Example::

    import asyncio
    from blockyard_aws.secretsmanager import SecretsManagerSecretStore

    async def main() -> None:
        async with SecretsManagerSecretStore({"region": "us-east-1"}, name="secrets") as store:
            print(await store.get_secret("db-password", metadata={"version_stage": "AWSCURRENT"}))

    asyncio.run(main())

Component YAML::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: secrets}
    spec:
      type: secretstores.aws.secretmanager
      version: v1
      metadata:
        - {name: region, value: us-east-1}
        - {name: multipleKeyValuesPerSecret, value: "false"}
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from blockyard.errors import BackendError, SecretNotFoundError
from blockyard.metadata import meta
from blockyard.secretstores import SecretStore, SecretStoreFeature
from blockyard_aws.client import AwsClientMixin, AwsMetadata, aws_error_code

__all__ = ["SecretsManagerMetadata", "SecretsManagerSecretStore"]

_NOT_FOUND = frozenset({"ResourceNotFoundException"})


class SecretsManagerMetadata(AwsMetadata):
    """Metadata of ``secretstores.aws.secretmanager``."""

    multiple_key_values_per_secret: bool = meta(
        False, description="a secret's SecretString is a JSON object whose pairs are the secret's keys"
    )


class SecretsManagerSecretStore(AwsClientMixin, SecretStore):
    """Secret store on AWS Secrets Manager; see the module docstring."""

    type: ClassVar[str] = "secretstores.aws.secretmanager"
    Metadata = SecretsManagerMetadata
    features: ClassVar[frozenset[SecretStoreFeature]] = frozenset(
        {SecretStoreFeature.MULTIPLE_KEY_VALUES_PER_SECRET, SecretStoreFeature.SECRET_VERSIONS}
    )
    aws_services: ClassVar[tuple[str, ...]] = ("secretsmanager",)

    def __init__(self, metadata: Any = None, *, name: str | None = None) -> None:
        super().__init__(metadata, name=name)
        self._multi = bool(self.meta.multiple_key_values_per_secret)
        if not self._multi:
            self._narrow_features({SecretStoreFeature.SECRET_VERSIONS})

    async def _ping(self) -> None:
        await self._call("secretsmanager", "list_secrets", MaxResults=1)

    def _values(self, name: str, resp: Mapping[str, Any]) -> dict[str, str]:
        if "SecretString" in resp:
            text = str(resp["SecretString"])
        else:
            text = base64.b64encode(resp.get("SecretBinary", b"")).decode()
        if not self._multi:
            return {name: text}
        try:
            decoded = orjson.loads(text)
        except orjson.JSONDecodeError:
            decoded = None
        if not isinstance(decoded, dict):
            raise BackendError("with multipleKeyValuesPerSecret the secret must hold a JSON object", key=name)
        return {str(k): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in decoded.items()}

    async def _get_secret(self, name: str, metadata: Mapping[str, str]) -> dict[str, str]:
        kwargs: dict[str, Any] = {"SecretId": name}
        version = metadata.get("version_id")
        if version:
            if not 32 <= len(version) <= 64:
                raise SecretNotFoundError(
                    "no such version: Secrets Manager version ids have 32 to 64 characters", key=name
                )
            kwargs["VersionId"] = version
        if metadata.get("version_stage"):
            kwargs["VersionStage"] = metadata["version_stage"]
        try:
            resp = await self._call("secretsmanager", "get_secret_value", **kwargs)
        except Exception as exc:
            if aws_error_code(exc) in _NOT_FOUND:
                raise SecretNotFoundError("no such secret (or version of it)", key=name) from None
            raise
        return self._values(name, resp)

    async def _bulk_get_secrets(self, metadata: Mapping[str, str]) -> dict[str, dict[str, str]]:
        names: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"MaxResults": 100}
            if token:
                kwargs["NextToken"] = token
            resp = await self._call("secretsmanager", "list_secrets", **kwargs)
            names += [s["Name"] for s in resp.get("SecretList", [])]
            token = resp.get("NextToken")
            if not token:
                break
        out: dict[str, dict[str, str]] = {}
        for name in names:
            try:
                out[name] = await self._get_secret(name, {})
            except SecretNotFoundError:
                continue  # deleted (or without a current version) since it was listed
            except BackendError as exc:
                if "JSON object" in exc.message:
                    continue  # not a multi-valued secret: left out of the bulk result
                raise
        return out

"""The secret store contract.

- ``get_secret(name)`` returns ``{key: value}``: a single-valued secret ``n`` is ``{n: value}``; a
  multi-valued one (:attr:`SecretStoreFeature.MULTIPLE_KEY_VALUES_PER_SECRET`) has a key per value.
- A missing secret raises :class:`~blockyard.errors.SecretNotFoundError`, in every store (stricter
  than Dapr's ``local.env``, which returns an empty value).
- ``bulk_get_secrets()`` returns ``{name: {key: value}}`` for every secret the store can list.
- Request metadata ``version_id`` / ``version_stage`` select a version where
  :attr:`SecretStoreFeature.SECRET_VERSIONS` is declared; elsewhere they raise
  :class:`~blockyard.errors.NotSupportedError`.
- Secret values never appear in logs, reprs or error messages.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from typing import ClassVar

from blockyard.component import Component, ComponentKind
from blockyard.errors import InvalidRequestError

__all__ = ["VERSION_METADATA", "SecretStore", "SecretStoreFeature"]

VERSION_METADATA = ("version_id", "version_stage")
"""Request metadata keys that select a secret's version."""

_EMPTY: Mapping[str, str] = {}


class SecretStoreFeature(enum.StrEnum):
    """Optional capabilities of a secret store (Dapr's names, plus Blockyard's own)."""

    MULTIPLE_KEY_VALUES_PER_SECRET = "MULTIPLE_KEY_VALUES_PER_SECRET"
    """A secret may hold several key/value pairs."""
    SECRET_VERSIONS = "SECRET_VERSIONS"
    """``version_id`` metadata reads an earlier version (Blockyard's)."""


class SecretStore(Component, abc.ABC):
    """A read-only store of secrets."""

    kind: ClassVar[ComponentKind] = ComponentKind.SECRETSTORES
    features: ClassVar[frozenset[SecretStoreFeature]] = frozenset()

    async def get_secret(self, name: str, *, metadata: Mapping[str, str] | None = None) -> dict[str, str]:
        """Return the secret's key/value pairs.

        :raises SecretNotFoundError: no such secret (or version).
        :raises NotSupportedError: version metadata without :attr:`SecretStoreFeature.SECRET_VERSIONS`.
        """
        self._check_ready("get_secret")
        if not isinstance(name, str) or not name:
            raise InvalidRequestError("secret name must be a non-empty string", component=self.name)
        md = metadata or _EMPTY
        self._check_versions(md)
        return await self._call_hook("get_secret", name, self._get_secret(name, md))

    async def bulk_get_secrets(self, *, metadata: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
        """Return every secret the store can list, as ``{name: {key: value}}``."""
        self._check_ready("bulk_get_secrets")
        md = metadata or _EMPTY
        self._check_versions(md)
        return await self._call_hook("bulk_get_secrets", None, self._bulk_get_secrets(md))

    def _check_versions(self, metadata: Mapping[str, str]) -> None:
        if SecretStoreFeature.SECRET_VERSIONS in self.features:
            return
        for k in VERSION_METADATA:
            if k in metadata:
                raise self._unsupported(SecretStoreFeature.SECRET_VERSIONS, f"metadata {k!r}", key=k)

    @abc.abstractmethod
    async def _get_secret(self, name: str, metadata: Mapping[str, str]) -> dict[str, str]:
        """Return the secret; raise :class:`SecretNotFoundError` when absent."""

    @abc.abstractmethod
    async def _bulk_get_secrets(self, metadata: Mapping[str, str]) -> dict[str, dict[str, str]]:
        """Return every secret."""

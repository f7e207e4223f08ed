"""``secretstores.local.env``: secrets from the process's environment variables.

``get_secret("db_password")`` reads the variable ``<prefix>db_password`` at call time and returns
``{"db_password": value}``. Stricter than Dapr, which returns an empty value: a variable that is
not set raises :class:`~blockyard.errors.SecretNotFoundError`. As in Dapr, ``APP_API_TOKEN`` and
every ``DAPR_*`` variable (any case) are never exposed. ``bulk_get_secrets()`` returns every
variable whose name starts with ``prefix`` (case-sensitive), under its name without the prefix.

Metadata: ``prefix`` (default empty: every variable is a secret).

Example::

    import asyncio, os
    from blockyard_local.secretstores_env import LocalEnvSecretStore

    async def main() -> None:
        os.environ["MYAPP_db_password"] = "s3cret"
        async with LocalEnvSecretStore({"prefix": "MYAPP_"}) as store:
            print(await store.get_secret("db_password"))   # {'db_password': 's3cret'}

    asyncio.run(main())
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import ClassVar

from blockyard.errors import SecretNotFoundError
from blockyard.metadata import ComponentMetadata, meta
from blockyard.secretstores import SecretStore, SecretStoreFeature

__all__ = ["LocalEnvSecretMetadata", "LocalEnvSecretStore"]


class LocalEnvSecretMetadata(ComponentMetadata):
    """Metadata of ``secretstores.local.env``."""

    prefix: str = meta("", description="Only variables starting with this prefix are secrets; it is stripped.")


def _denied(variable: str) -> bool:
    upper = variable.upper()
    return upper == "APP_API_TOKEN" or upper.startswith("DAPR_")


class LocalEnvSecretStore(SecretStore):
    """The ``secretstores.local.env`` store. See the module docstring."""

    type: ClassVar[str] = "secretstores.local.env"
    Metadata = LocalEnvSecretMetadata
    features: ClassVar[frozenset[SecretStoreFeature]] = frozenset()

    async def _get_secret(self, name: str, metadata: Mapping[str, str]) -> dict[str, str]:
        variable = self.meta.prefix + name
        if _denied(variable):
            raise SecretNotFoundError(f"secret {name!r} is a reserved variable and never exposed")
        value = os.environ.get(variable)
        if value is None:
            raise SecretNotFoundError(f"secret {name!r} not found: no environment variable {variable!r}")
        return {name: value}

    async def _bulk_get_secrets(self, metadata: Mapping[str, str]) -> dict[str, dict[str, str]]:
        prefix = self.meta.prefix
        out: dict[str, dict[str, str]] = {}
        for variable, value in os.environ.items():
            if variable.startswith(prefix) and len(variable) > len(prefix) and not _denied(variable):
                name = variable[len(prefix) :]
                out[name] = {name: value}
        return out

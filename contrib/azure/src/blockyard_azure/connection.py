"""Connection metadata, the ``azure.cosmos.aio`` client and error translation shared by the Cosmos DB
components.

:class:`CosmosConnectionMetadata` holds Dapr's ``url``, ``masterKey``, ``database`` and
``collection`` plus Blockyard's client settings; :class:`CosmosClientMixin` gives a component its
lifecycle on one async client: ``init()`` opens it and reads the container within
``connectionTimeout`` (a wrong key raises :class:`~blockyard.errors.AuthenticationError`, an
unreachable endpoint :class:`~blockyard.errors.BackendUnavailableError`, a missing database or
container :class:`~blockyard.errors.ComponentConfigError` naming it), ``close()`` releases it.

Throttling (HTTP 429) is retried by the SDK, waiting the ``x-ms-retry-after-ms`` the service asks
for, up to ``maxRetryAttempts`` times and ``maxRetryWaitTime`` in total. Microsoft Entra ID
(``azureClientId``, ...) is not implemented and refused at load.
"""

from __future__ import annotations

import builtins
from datetime import timedelta
from typing import Any, ClassVar

from pydantic import field_validator

from blockyard.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    BlockyardError,
    ComponentConfigError,
    ETagMismatchError,
    InvalidRequestError,
)
from blockyard.metadata import ComponentMetadata, Duration, SecretStr, meta

__all__ = ["CosmosClientMixin", "CosmosConnectionMetadata", "cosmos_error"]

_ENTRA = "Microsoft Entra ID authentication is not implemented; use masterKey"

_ENTRA_FIELDS = (
    "azureClientId",
    "azureTenantId",
    "azureClientSecret",
    "azureCertificate",
    "azureCertificateFile",
    "azureCertificatePassword",
    "azureEnvironment",
    "azureFederatedTokenFile",
)
_UNSUPPORTED: dict[str, str] = dict.fromkeys(_ENTRA_FIELDS, _ENTRA)


class CosmosConnectionMetadata(ComponentMetadata):
    """Where the Cosmos DB account, database and container are, and how to reach them."""

    unsupported: ClassVar[dict[str, str]] = _UNSUPPORTED

    url: str = meta(description="The Cosmos DB account endpoint.", example="https://myaccount.documents.azure.com:443/")
    master_key: SecretStr = meta(description="The account key (primary or secondary).", example="<key>")
    database: str = meta(description="The database; it must exist.", example="orders")
    collection: str = meta(description="The container; it must exist.", example="items")
    connection_timeout: Duration = meta(
        timedelta(seconds=10),
        description=(
            "Longest wait for one HTTP request to the endpoint (the SDK's connection_timeout); an unanswered"
            " request is tried twice (Blockyard's)."
        ),
        example="5s",
    )
    max_retry_attempts: int = meta(
        9, description="How often a throttled (429) request is retried (Blockyard's).", example="9"
    )
    max_retry_wait_time: Duration = meta(
        timedelta(seconds=30), description="Longest total wait over the retries of a throttled request.", example="30s"
    )
    endpoint_discovery: bool = meta(
        True,
        description=(
            "Follow the regional endpoints the account advertises (the SDK's enable_endpoint_discovery)."
            " Turn it off to send every request to 'url': behind a proxy or gateway, whose address the"
            " account does not advertise, or on an emulator reached through a mapped port"
            " (Blockyard's; Dapr has no such field)."
        ),
        example="false",
    )

    @field_validator("max_retry_attempts")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError("expected at least 1 retry of a throttled request")
        return value

    @field_validator("connection_timeout", "max_retry_wait_time")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("expected a positive duration")
        return value


_STATUS_MESSAGES = {
    401: "the endpoint refused the credentials (check masterKey)",
    403: "the endpoint refused the request (forbidden)",
    408: "the request timed out",
    413: "the item is too large for Cosmos DB (2 MB per item)",
    429: "the request was throttled (429) more often than maxRetryAttempts / maxRetryWaitTime allow",
}


def cosmos_error(exc: BaseException) -> builtins.type[BlockyardError] | BlockyardError | None:
    """A Blockyard error for an azure-cosmos / transport exception (``None``: not one of theirs)."""
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError
    from azure.cosmos.exceptions import CosmosHttpResponseError

    if isinstance(exc, CosmosHttpResponseError):
        status = exc.status_code
        text = _STATUS_MESSAGES.get(status or 0, f"Cosmos DB answered HTTP {status}")
        if status == 401:
            return AuthenticationError(text)
        if status == 412:
            return ETagMismatchError("the ETag does not match the stored item")
        if status in (400, 413):
            return InvalidRequestError(f"{text}: {_first_line(exc)}")
        if status in (408, 429, 503) or (status is not None and status >= 500):
            return BackendUnavailableError(text)
        return BackendError(f"{text}: {_first_line(exc)}")
    if isinstance(exc, ServiceRequestError | ServiceResponseError | ConnectionError | TimeoutError | OSError):
        return BackendUnavailableError(f"cannot reach the Cosmos DB endpoint ({type(exc).__name__})")
    return None


def _first_line(exc: Any) -> str:
    message = str(getattr(exc, "message", "") or exc).strip().splitlines()
    return message[0][:300] if message else type(exc).__name__


class CosmosClientMixin:
    """Lifecycle of one ``azure.cosmos.aio`` client on the component's container."""

    meta: CosmosConnectionMetadata
    name: str
    _client: Any = None
    _container: Any = None

    async def _open_container(self) -> None:
        from azure.cosmos.aio import CosmosClient
        from azure.cosmos.exceptions import CosmosResourceNotFoundError

        m = self.meta
        timeout = m.connection_timeout.total_seconds()
        client = CosmosClient(
            m.url,
            credential=m.master_key.get_secret_value(),
            connection_timeout=timeout,
            retry_total=2,
            retry_connect=1,
            retry_backoff_max=2,
            enable_endpoint_discovery=m.endpoint_discovery,
            retry_throttle_total=m.max_retry_attempts,
            retry_throttle_backoff_max=max(1, int(m.max_retry_wait_time.total_seconds())),
        )
        try:
            database = client.get_database_client(m.database)
            try:
                await database.read()
            except CosmosResourceNotFoundError:
                raise ComponentConfigError(
                    f"field 'database': the database {m.database!r} does not exist", field="database"
                ) from None
            container = database.get_container_client(m.collection)
            try:
                await container.read()
            except CosmosResourceNotFoundError:
                raise ComponentConfigError(
                    f"field 'collection': the container {m.collection!r} does not exist in database {m.database!r}",
                    field="collection",
                ) from None
        except BaseException:
            await client.close()
            raise
        self._client, self._container = client, container

    async def _close_client(self) -> None:
        client, self._client, self._container = self._client, None, None
        if client is not None:
            await client.close()

    @property
    def container(self) -> Any:
        """The open container client."""
        if self._container is None:
            raise BackendUnavailableError("the Cosmos DB client is closed")
        return self._container

    def _translate_error(self, exc: BaseException) -> builtins.type[BlockyardError] | BlockyardError | None:
        return cosmos_error(exc)

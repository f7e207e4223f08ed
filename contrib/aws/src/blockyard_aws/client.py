"""What every AWS component shares: Dapr's AWS metadata, boto3 clients, a thread pool, error mapping.

:class:`AwsMetadata` is Dapr's built-in ``aws`` authentication profile plus the component's
``endpoint``: ``region`` (alias ``awsRegion``), ``accessKey``, ``secretKey`` and ``sessionToken``
(both sensitive), ``assumeRoleArn`` / ``sessionName``. Without keys, boto3's standard credential
chain applies (environment, shared files, instance or container role). IAM Roles Anywhere is
refused at load.

:class:`AwsClientMixin` gives a component its lifecycle on boto3: ``init()`` builds the session
and clients off the event loop and checks the component's resources (table, bucket, queue) so a
misconfiguration fails at start with a clear error. boto3 is blocking; every call runs on a thread
pool owned by the component (``_call``), so the event loop never waits on the network.

Retries: botocore's *standard* mode, ``maxRetries`` retries of throttling, transient and
connection errors with exponential backoff and jitter. Errors: refused or missing credentials
(or any HTTP 401/403 answer) become :class:`~blockyard.errors.AuthenticationError`; an
unreachable endpoint, a timeout or throttling that outlasts the retries
:class:`~blockyard.errors.BackendUnavailableError`; a request botocore refuses to send
:class:`~blockyard.errors.InvalidRequestError`; every other AWS error a
:class:`~blockyard.errors.BackendError` carrying the AWS error code.

Logging: botocore logs whole request and response bodies (secret values, items, messages) and
signing details at DEBUG. Importing this module drops those DEBUG records of ``botocore.endpoint``,
``botocore.parsers``, ``botocore.auth`` and ``botocore.retryhandler``, so turning on DEBUG logging
never writes a secret.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, ClassVar, Self

from pydantic import field_validator, model_validator

from blockyard.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    BlockyardError,
    InvalidRequestError,
)
from blockyard.metadata import ComponentMetadata, Duration, SecretStr, meta

__all__ = ["AUTH_CODES", "AwsClientMixin", "AwsMetadata", "aws_error_code", "aws_error_class"]

_ROLES_ANYWHERE = "IAM Roles Anywhere is not implemented; use keys, assumeRoleArn or the default credential chain"

AUTH_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredToken",
        "ExpiredTokenException",
        "AuthFailure",
        "MissingAuthenticationToken",
        "IncompleteSignature",
    }
)
"""AWS error codes that mean the credentials were refused."""

_UNAVAILABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
        "LimitExceededException",
    }
)


_BODY_LOGGERS = ("botocore.endpoint", "botocore.parsers", "botocore.auth", "botocore.retryhandler")


def _above_debug(record: logging.LogRecord) -> bool:
    return record.levelno > logging.DEBUG


for _name in _BODY_LOGGERS:
    logging.getLogger(_name).addFilter(_above_debug)


class AwsMetadata(ComponentMetadata):
    """Dapr's AWS profile (``region``, keys, assumed role) and the endpoint; every AWS component extends it."""

    unsupported: ClassVar[dict[str, str]] = {
        "trustAnchorArn": _ROLES_ANYWHERE,
        "trustProfileArn": _ROLES_ANYWHERE,
    }

    region: str | None = meta(
        None,
        description="AWS region (else boto3's default: AWS_REGION / AWS_DEFAULT_REGION / config file)",
        aliases=("awsRegion",),
        example="us-east-1",
    )
    access_key: str | None = meta(None, description="access key id (with secretKey); else the credential chain")
    secret_key: SecretStr | None = meta(None, description="secret access key (sensitive)")
    session_token: SecretStr | None = meta(None, description="session token of temporary credentials (sensitive)")
    endpoint: str | None = meta(
        None, description="endpoint URL, for LocalStack, moto or a VPC endpoint", example="http://localhost:4566"
    )
    assume_role_arn: str | None = meta(None, description="role to assume with STS before every other call")
    session_name: str = meta("DaprDefaultSession", description="session name of the assumed role")
    dial_timeout: Duration = meta(timedelta(seconds=5), description="connect timeout of each request")
    read_timeout: Duration = meta(timedelta(seconds=60), description="read timeout of each request")
    max_retries: int = meta(
        3, description="retries of throttled, transient and connection errors (exponential backoff, jitter)"
    )

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("max_retries")
    @classmethod
    def _check_retries(cls, value: int) -> int:
        if value < 0:
            raise ValueError("expected an integer >= 0")
        return value

    @model_validator(mode="after")
    def _check_keys(self) -> Self:
        if (self.access_key is None) != (self.secret_key is None):
            raise ValueError("field 'accessKey' and field 'secretKey' must be given together")
        if self.session_token is not None and self.access_key is None:
            raise ValueError("field 'sessionToken' needs 'accessKey' and 'secretKey'")
        return self


def aws_error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (``None`` for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def aws_error_class(exc: BaseException) -> type[BlockyardError] | None:
    """The Blockyard error class for a boto3/botocore exception (``None``: the default mapping)."""
    from botocore import exceptions as bx

    code = aws_error_code(exc)
    if code is not None:
        status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in AUTH_CODES or status in (401, 403):
            return AuthenticationError
        if code in _UNAVAILABLE_CODES:
            return BackendUnavailableError
        return BackendError
    if isinstance(exc, bx.ParamValidationError):
        return InvalidRequestError
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return AuthenticationError
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError)):
        return BackendUnavailableError
    if isinstance(exc, bx.HTTPClientError):
        return BackendUnavailableError
    return None


def _session(md: AwsMetadata) -> Any:
    import boto3

    kwargs: dict[str, Any] = {"region_name": md.region}
    if md.access_key is not None and md.secret_key is not None:
        kwargs["aws_access_key_id"] = md.access_key
        kwargs["aws_secret_access_key"] = md.secret_key.get_secret_value()
        if md.session_token is not None:
            kwargs["aws_session_token"] = md.session_token.get_secret_value()
    session = boto3.Session(**kwargs)
    if md.assume_role_arn:
        session = _assumed(session, md)
    return session


def _assumed(base: Any, md: AwsMetadata) -> Any:
    """A session whose credentials come from ``sts:AssumeRole`` and refresh before they expire."""
    import boto3
    from botocore.credentials import RefreshableCredentials
    from botocore.session import get_session

    sts = base.client("sts", endpoint_url=md.endpoint)

    def refresh() -> dict[str, str]:
        creds = sts.assume_role(RoleArn=md.assume_role_arn, RoleSessionName=md.session_name)["Credentials"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }

    core = get_session()
    core._credentials = RefreshableCredentials.create_from_metadata(refresh(), refresh, "assume-role")
    return boto3.Session(botocore_session=core, region_name=md.region or base.region_name)


class AwsClientMixin:
    """Lifecycle on boto3 clients and a thread pool; mix in before the building block's base.

    A component lists the services it uses in ``aws_services`` and may override
    :meth:`_check_resources` (called at ``init()``) to verify its table, bucket or queue. Blocking
    calls go through :meth:`_call` (a client method) or :meth:`_run` (any function), on the pool.
    """

    meta: Any
    name: str
    aws_services: ClassVar[tuple[str, ...]] = ()
    #: Threads of the component's pool (and botocore connections per client).
    aws_workers: ClassVar[int] = 16
    _executor: ThreadPoolExecutor | None = None
    _clients: dict[str, Any]

    async def _init(self) -> None:
        self._executor = ThreadPoolExecutor(self.aws_workers, thread_name_prefix=f"blockyard-aws-{self.name}")
        try:
            self._clients = await self._run(self._make_clients)
            await self._check_resources()
        except BaseException:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
            raise

    def _make_clients(self) -> dict[str, Any]:
        from botocore.config import Config

        md: AwsMetadata = self.meta
        session = _session(md)
        config = Config(
            connect_timeout=md.dial_timeout.total_seconds(),
            read_timeout=md.read_timeout.total_seconds(),
            retries={"mode": "standard", "total_max_attempts": md.max_retries + 1},
            max_pool_connections=self.aws_workers,
        )
        return {s: session.client(s, endpoint_url=md.endpoint, config=config) for s in self.aws_services}

    async def _check_resources(self) -> None:
        """Verify the component's AWS resources exist (override); raise a clear error when not."""

    async def _close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, functools.partial(executor.shutdown, wait=True))
        for client in getattr(self, "_clients", {}).values():
            client.close()
        self._clients = {}

    async def _run(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run the blocking ``fn(*args, **kwargs)`` on the component's thread pool."""
        if self._executor is None:
            raise BackendUnavailableError("the component's AWS clients are closed")
        call = functools.partial(fn, *args, **kwargs) if args or kwargs else fn
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def _call(self, service: str, method: str, /, **kwargs: Any) -> Any:
        """Call ``method`` of the ``service`` client with ``kwargs``, on the thread pool."""
        return await self._run(getattr(self._clients[service], method), **kwargs)

    def _translate_error(self, exc: BaseException) -> type[BlockyardError] | None:
        return aws_error_class(exc)

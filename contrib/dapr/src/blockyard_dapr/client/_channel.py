"""What every socket client shares: metadata, the channel, the instance header and error mapping."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from pydantic import SecretStr, field_validator

from blockyard.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    BlockyardError,
    ETagInvalidError,
    ETagMismatchError,
    InvalidRequestError,
    NotSupportedError,
    SecretNotFoundError,
)
from blockyard.metadata import ComponentMetadata, Duration, meta

__all__ = ["SocketConnection", "SocketMetadata", "error_from_rpc"]

T = TypeVar("T")
INSTANCE_HEADER = "x-component-instance"


_SENSITIVE_NAME = re.compile(r"pass|secret|token|key|credential|connection|auth|sas|cert", re.IGNORECASE)


def _sensitive(name: str, value: str | SecretStr) -> str | SecretStr:
    """``value`` as a SecretStr when ``name`` looks like it names a secret."""
    if isinstance(value, str) and _SENSITIVE_NAME.search(name):
        return SecretStr(value)
    return value


class SocketMetadata(ComponentMetadata):
    """Where the pluggable component listens, and what to send it at ``Init``."""

    socket_path: str = meta(description="Path of the component's Unix socket", example="/tmp/my-store.sock")
    component_metadata: dict[str, str | SecretStr] = meta(
        default_factory=dict,
        description="JSON object: the metadata sent to the component's Init (name -> value); values of "
        "names that look secret (password, secret, token, key, credential, connection string...) are "
        "kept sensitive, since only the component knows its secrets",
        example='{"redisHost": "127.0.0.1:6379"}',
    )

    attach_timeout: Duration = meta(
        timedelta(seconds=5),
        description="Pub/sub and input bindings: how long subscribing waits for the server to say it "
        "attached (header x-blockyard-subscribed); a server that never says so is then assumed attached",
        example="5s",
    )

    def init_properties(self, **overrides: str) -> dict[str, str]:
        """The metadata to send at ``Init`` (``overrides`` replace given names)."""
        given = {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in self.component_metadata.items()}
        return {**given, **overrides}

    @field_validator("component_metadata", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError:
                raise ValueError("expected a JSON object of name -> value") from None
        if isinstance(value, dict):
            return {
                str(k): _sensitive(str(k), v if isinstance(v, str | SecretStr) else json.dumps(v))
                for k, v in value.items()
            }
        return value


def _etag_violation(error: grpc.aio.AioRpcError) -> bool:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return False
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad) and any(v.field == "etag" for v in bad.field_violations):
            return True
    return False


def error_from_rpc(error: grpc.aio.AioRpcError) -> BlockyardError:
    """The Blockyard error a pluggable component's gRPC status stands for."""
    code, text = error.code(), error.details() or str(error.code())
    if code is grpc.StatusCode.FAILED_PRECONDITION and _etag_violation(error):
        return ETagMismatchError(text)
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return ETagInvalidError(text) if _etag_violation(error) else InvalidRequestError(text)
    if code is grpc.StatusCode.UNIMPLEMENTED:
        return NotSupportedError(text)
    if code is grpc.StatusCode.NOT_FOUND:
        return SecretNotFoundError(text)
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return AuthenticationError(text)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return BackendUnavailableError(text)
    return BackendError(text)


class SocketConnection:
    """One channel to the socket; every call carries the instance name and maps errors back."""

    def __init__(self, path: str, instance: str) -> None:
        self.channel = grpc.aio.insecure_channel(f"unix://{path}")
        self.header = ((INSTANCE_HEADER, instance),)

    async def call(self, method: Callable[..., Awaitable[T]], request: Any) -> T:
        """Call a unary method of a stub on this channel.

        :raises BlockyardError: the component's error, mapped from its gRPC status.
        """
        try:
            return await method(request, metadata=self.header)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from exc

    async def close(self) -> None:
        """Close the channel."""
        await self.channel.close()

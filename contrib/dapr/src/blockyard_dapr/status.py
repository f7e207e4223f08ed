"""Blockyard errors as the gRPC statuses daprd understands.

daprd reads a pluggable state store's ETag errors from the status code *and* a ``BadRequest``
detail whose one field violation names the field ``etag``: ``FAILED_PRECONDITION`` is a mismatch,
``INVALID_ARGUMENT`` an invalid ETag. Every other error keeps its message (which names the
component, the operation and the key, never a secret) under the code that says what happened.
"""

from __future__ import annotations

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from blockyard.errors import (
    AuthenticationError,
    BackendUnavailableError,
    BlockyardError,
    BulkError,
    ComponentClosedError,
    ComponentConfigError,
    ETagInvalidError,
    ETagMismatchError,
    InvalidRequestError,
    NotSupportedError,
    SecretNotFoundError,
)

__all__ = ["abort_with", "status_for"]

ETAG_FIELD = "etag"

_CODES: tuple[tuple[type[BlockyardError], int], ...] = (
    (ETagMismatchError, code_pb2.FAILED_PRECONDITION),
    (ETagInvalidError, code_pb2.INVALID_ARGUMENT),
    (ComponentConfigError, code_pb2.INVALID_ARGUMENT),
    (InvalidRequestError, code_pb2.INVALID_ARGUMENT),
    (NotSupportedError, code_pb2.UNIMPLEMENTED),
    (SecretNotFoundError, code_pb2.NOT_FOUND),
    (AuthenticationError, code_pb2.UNAUTHENTICATED),
    (BackendUnavailableError, code_pb2.UNAVAILABLE),
    (ComponentClosedError, code_pb2.UNAVAILABLE),
)


def _etag_cause(exc: BaseException) -> BlockyardError | None:
    """The ETag error behind ``exc``: itself, or the first one a :class:`BulkError` names."""
    if isinstance(exc, ETagMismatchError | ETagInvalidError):
        return exc
    if isinstance(exc, BulkError):
        return next((e for e in exc.errors.values() if isinstance(e, ETagMismatchError | ETagInvalidError)), None)
    return None


def status_for(exc: BaseException) -> status_pb2.Status:
    """The rich gRPC status that reports ``exc`` to daprd."""
    etag = _etag_cause(exc)
    if etag is not None:
        code = code_pb2.FAILED_PRECONDITION if isinstance(etag, ETagMismatchError) else code_pb2.INVALID_ARGUMENT
        detail = error_details_pb2.BadRequest(
            field_violations=[error_details_pb2.BadRequest.FieldViolation(field=ETAG_FIELD, description=str(exc))]
        )
        status = status_pb2.Status(code=code, message=str(exc))
        status.details.add().Pack(detail)
        return status
    code = next((c for cls, c in _CODES if isinstance(exc, cls)), code_pb2.INTERNAL)
    if not isinstance(exc, BlockyardError):
        return status_pb2.Status(code=code_pb2.INTERNAL, message=f"{type(exc).__name__}: {exc}")
    return status_pb2.Status(code=code, message=str(exc))


async def abort_with(context: grpc.aio.ServicerContext[object, object], exc: BaseException) -> None:
    """End the call with the status for ``exc`` (never returns)."""
    await context.abort_with_status(rpc_status.to_status(status_for(exc)))

"""What every servicer shares: turning a Blockyard error into daprd's status, and the features reply."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeAlias, TypeVar, cast

import grpc

from blockyard.component import Component
from blockyard.errors import NotSupportedError
from blockyard_dapr.protocol import common_pb2
from blockyard_dapr.status import abort_with

__all__ = ["features_response", "ping", "reports_errors"]

Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]
Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


def reports_errors(method: Handler) -> Handler:
    """Wrap a unary handler ``(self, request, context)`` so that an error ends the call with its status.

    A Blockyard error keeps its message under the matching code; any other exception is
    ``INTERNAL`` with its type and message.
    """

    @functools.wraps(method)
    async def handler(self: Any, request: Any, context: Ctx) -> Any:
        try:
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort_with(context, exc)
            raise  # not reached: abort_with ends the call by raising

    return cast(Handler, handler)


def features_response(features: Iterable[str]) -> common_pb2.FeaturesResponse:
    """The ``Features`` reply: the declared feature names, sorted."""
    return common_pb2.FeaturesResponse(features=sorted(str(f) for f in features))


async def ping(component: Component) -> None:
    """Check the component's backend; a component without a health check is healthy when ready."""
    try:
        await component.ping()
    except NotSupportedError:
        if component.closed:
            raise

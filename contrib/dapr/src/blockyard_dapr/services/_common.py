"""What every servicer shares: its instances, ``Init``/``Ping``/``Features``, and errors as daprd's status."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar, cast

import grpc
from google.protobuf.message import Message

from blockyard.component import Component
from blockyard.errors import NotSupportedError
from blockyard_dapr.instances import Instances
from blockyard_dapr.protocol import common_pb2
from blockyard_dapr.status import abort_with

__all__ = ["ComponentServicer", "ReportsFeatures", "ServesInstances", "features_response", "ping", "reports_errors"]

Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]
Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])
C = TypeVar("C", bound=Component)


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


class ServesInstances(Generic[C]):
    """A servicer over the live components of one kind on its socket."""

    def __init__(self, instances: Instances[C]) -> None:
        self.instances = instances


class ComponentServicer(ServesInstances[C]):
    """The lifecycle calls of every service: ``Init`` creates the instance the call names, ``Ping`` checks it.

    A subclass names the service's own ``Init`` reply type in :attr:`init_response`.
    """

    init_response: ClassVar[type[Message]]

    @reports_errors
    async def Init(self, request: Any, context: Ctx) -> Message:
        await self.instances.init(context, dict(request.metadata.properties))
        return self.init_response()

    @reports_errors
    async def Ping(self, request: common_pb2.PingRequest, context: Ctx) -> common_pb2.PingResponse:
        await ping(self.instances.get(context))
        return common_pb2.PingResponse()


class ReportsFeatures(ComponentServicer[C]):
    """A service whose protocol has ``Features``: the instance's declared features."""

    @reports_errors
    async def Features(self, request: common_pb2.FeaturesRequest, context: Ctx) -> common_pb2.FeaturesResponse:
        return features_response(self.instances.get(context).features)

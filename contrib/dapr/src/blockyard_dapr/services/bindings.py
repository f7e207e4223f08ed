"""``InputBinding`` and ``OutputBinding`` servicers over Blockyard bindings.

``Read`` starts the binding's reader when daprd opens the stream; each event waits for daprd's
answer (the app's reply) before the binding acknowledges it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import grpc

from blockyard.bindings import BindingEvent, InputBinding, OutputBinding
from blockyard.subscription import HandlerResult
from blockyard_dapr.protocol import SUBSCRIBED_HEADER, bindings_pb2
from blockyard_dapr.services._acks import AckedStream
from blockyard_dapr.services._common import ComponentServicer, reports_errors
from blockyard_dapr.status import abort_with

__all__ = ["InputBindingServicer", "OutputBindingServicer"]

Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]


def _read_ack(request: bindings_pb2.ReadRequest) -> tuple[str, bool]:
    return request.message_id, request.HasField("response_error")


class OutputBindingServicer(ComponentServicer[OutputBinding]):
    """``Invoke`` and ``ListOperations`` of every served output binding."""

    init_response = bindings_pb2.OutputBindingInitResponse

    @reports_errors
    async def ListOperations(
        self, request: bindings_pb2.ListOperationsRequest, context: Ctx
    ) -> bindings_pb2.ListOperationsResponse:
        return bindings_pb2.ListOperationsResponse(operations=sorted(self.instances.get(context).operations))

    @reports_errors
    async def Invoke(self, request: bindings_pb2.InvokeRequest, context: Ctx) -> bindings_pb2.InvokeResponse:
        response = await self.instances.get(context).invoke(
            request.operation, bytes(request.data) if request.data else None, metadata=dict(request.metadata)
        )
        return bindings_pb2.InvokeResponse(
            data=response.data or b"", metadata=response.metadata, content_type=response.content_type or ""
        )


class InputBindingServicer(ComponentServicer[InputBinding]):
    """The ``Read`` stream of every served input binding."""

    init_response = bindings_pb2.InputBindingInitResponse

    async def Read(
        self, request_iterator: AsyncIterator[bindings_pb2.ReadRequest], context: Ctx
    ) -> AsyncIterator[bindings_pb2.ReadResponse]:
        """Deliver the binding's events until daprd closes the stream."""
        stream: AckedStream[bindings_pb2.ReadResponse] = AckedStream()

        async def handle(event: BindingEvent) -> HandlerResult:
            return await stream.deliver(
                lambda message_id: bindings_pb2.ReadResponse(
                    data=event.data or b"",
                    metadata=event.metadata,
                    content_type=event.content_type or "",
                    message_id=message_id,
                )
            )

        try:
            reader = await self.instances.get(context).read(handle)
        except Exception as exc:
            await abort_with(context, exc)
            return
        try:
            await context.send_initial_metadata(((SUBSCRIBED_HEADER, "1"),))
            async for response in stream.run(request_iterator, _read_ack):
                yield response
        finally:
            await reader.cancel()

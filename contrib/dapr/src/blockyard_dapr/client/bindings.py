"""``bindings.dapr-socket``: bindings reached over Dapr's pluggable-component protocol.

The server's socket may offer an input binding, an output binding or both: the output side's
operations are the ones ``ListOperations`` reports; the input side reads the ``Read`` stream.
"""

from __future__ import annotations

from typing import ClassVar

from blockyard.bindings import BindingEvent, BindingResponse, DeliverEvent, InputBinding, InvokeRequest, OutputBinding
from blockyard.subscription import HandlerResult, Stopper
from blockyard_dapr.client._channel import SocketConnection, SocketMetadata
from blockyard_dapr.client._streams import answer_stream
from blockyard_dapr.protocol import bindings_pb2, bindings_pb2_grpc, common_pb2

__all__ = ["SocketInputBinding", "SocketOutputBinding"]


class SocketOutputBinding(OutputBinding):
    """A pluggable output binding; its operations are the ones the server lists after ``Init``."""

    type: ClassVar[str] = "bindings.dapr-socket"
    Metadata = SocketMetadata
    meta: SocketMetadata

    async def _init(self) -> None:
        self._conn = SocketConnection(self.meta.socket_path, self.name)
        self._stub = bindings_pb2_grpc.OutputBindingStub(self._conn.channel)
        init = bindings_pb2.OutputBindingInitRequest(
            metadata=common_pb2.MetadataRequest(properties=self.meta.component_metadata)
        )
        await self._conn.call(self._stub.Init, init)
        reply = await self._conn.call(self._stub.ListOperations, bindings_pb2.ListOperationsRequest())
        self.__dict__["operations"] = frozenset(op.lower() for op in reply.operations)

    async def _close(self) -> None:
        if hasattr(self, "_conn"):
            await self._conn.close()

    async def _ping(self) -> None:
        await self._conn.call(self._stub.Ping, common_pb2.PingRequest())

    async def _invoke(self, req: InvokeRequest) -> BindingResponse:
        request = bindings_pb2.InvokeRequest(operation=req.operation, data=req.data or b"", metadata=dict(req.metadata))
        reply = await self._conn.call(self._stub.Invoke, request)
        return BindingResponse(
            data=bytes(reply.data) if reply.data else None,
            metadata=dict(reply.metadata),
            content_type=reply.content_type or None,
        )


class SocketInputBinding(InputBinding):
    """A pluggable input binding: its ``Read`` stream, each event answered with the handler's result."""

    type: ClassVar[str] = "bindings.dapr-socket"
    Metadata = SocketMetadata
    meta: SocketMetadata

    async def _init(self) -> None:
        self._conn = SocketConnection(self.meta.socket_path, self.name)
        self._stub = bindings_pb2_grpc.InputBindingStub(self._conn.channel)
        init = bindings_pb2.InputBindingInitRequest(
            metadata=common_pb2.MetadataRequest(properties=self.meta.component_metadata)
        )
        await self._conn.call(self._stub.Init, init)

    async def _close(self) -> None:
        if hasattr(self, "_conn"):
            await self._conn.close()

    async def _ping(self) -> None:
        await self._conn.call(self._stub.Ping, common_pb2.PingRequest())

    async def _read(self, deliver: DeliverEvent) -> Stopper:
        stream = self._stub.Read(metadata=self._conn.header)

        async def handle(message: bindings_pb2.ReadResponse) -> HandlerResult:
            return await deliver(
                BindingEvent(
                    data=bytes(message.data) if message.data else None,
                    metadata=dict(message.metadata),
                    content_type=message.content_type or None,
                    id=message.message_id or None,
                )
            )

        def answer(message: bindings_pb2.ReadResponse, result: HandlerResult) -> bindings_pb2.ReadRequest:
            if result is HandlerResult.RETRY:
                error = bindings_pb2.AckResponseError(message="the handler asked for a retry")
                return bindings_pb2.ReadRequest(message_id=message.message_id, response_error=error)
            return bindings_pb2.ReadRequest(message_id=message.message_id)

        # the first request opens the stream; it answers no message
        return await answer_stream(stream, bindings_pb2.ReadRequest(), handle, answer)

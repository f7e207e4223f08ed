"""``bindings.dapr-socket``: bindings reached over Dapr's pluggable-component protocol.

The server's socket may offer an input binding, an output binding or both: the output side's
operations are the ones ``ListOperations`` reports (none when the socket has no output binding);
the input side reads the ``Read`` stream (``read`` fails when the socket has no input binding).
"""

from __future__ import annotations

from typing import Any, ClassVar

from blockyard.bindings import BindingEvent, BindingResponse, DeliverEvent, InputBinding, InvokeRequest, OutputBinding
from blockyard.errors import NotSupportedError
from blockyard.subscription import HandlerResult, Stopper
from blockyard_dapr.client._channel import SocketConnection, SocketMetadata
from blockyard_dapr.client._streams import Attach, answer_stream
from blockyard_dapr.protocol import bindings_pb2, bindings_pb2_grpc, common_pb2

__all__ = ["SocketBinding"]


class SocketBinding(InputBinding, OutputBinding):
    """A pluggable binding, input, output or both, as the server offers."""

    type: ClassVar[str] = "bindings.dapr-socket"
    Metadata = SocketMetadata
    meta: SocketMetadata

    async def _init(self) -> None:
        self._conn = SocketConnection(self.meta.socket_path, self.name)
        self._output = bindings_pb2_grpc.OutputBindingStub(self._conn.channel)
        self._input = bindings_pb2_grpc.InputBindingStub(self._conn.channel)
        properties = common_pb2.MetadataRequest(properties=self.meta.init_properties())
        self._has_input = await self._offered(
            self._input.Init, bindings_pb2.InputBindingInitRequest(metadata=properties)
        )
        operations: frozenset[str] = frozenset()
        if await self._offered(self._output.Init, bindings_pb2.OutputBindingInitRequest(metadata=properties)):
            reply = await self._conn.call(self._output.ListOperations, bindings_pb2.ListOperationsRequest())
            operations = frozenset(op.lower() for op in reply.operations)
        self.__dict__["operations"] = operations

    async def _offered(self, init: Any, request: Any) -> bool:
        """Initialise one side; False when the socket does not offer it."""
        try:
            await self._conn.call(init, request)
        except NotSupportedError:
            return False
        return True

    async def _close(self) -> None:
        if hasattr(self, "_conn"):
            await self._conn.close()

    async def _ping(self) -> None:
        stub = self._output if self.operations else self._input
        await self._conn.call(stub.Ping, common_pb2.PingRequest())

    async def _invoke(self, req: InvokeRequest) -> BindingResponse:
        request = bindings_pb2.InvokeRequest(operation=req.operation, data=req.data or b"", metadata=dict(req.metadata))
        reply = await self._conn.call(self._output.Invoke, request)
        return BindingResponse(
            data=bytes(reply.data) if reply.data else None,
            metadata=dict(reply.metadata),
            content_type=reply.content_type or None,
        )

    async def _read(self, deliver: DeliverEvent) -> Stopper:
        if not self._has_input:
            raise NotSupportedError("the socket offers no input binding", component=self.name, operation="read")
        stream = self._input.Read(metadata=self._conn.header)

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
        attach = Attach(self.name, "its input", self.meta.attach_timeout.total_seconds())
        return await answer_stream(stream, bindings_pb2.ReadRequest(), handle, answer, attach=attach)

"""``pubsub.dapr-socket``: a pub/sub component reached over Dapr's pluggable-component protocol."""

from __future__ import annotations

from typing import Any, ClassVar

from blockyard.errors import BackendError, BlockyardError
from blockyard.pubsub import BulkPublisher, Message, PublishOp, PubSubFeature, SubscribeRequest
from blockyard.subscription import HandlerResult, Stopper
from blockyard_dapr.client._channel import SocketConnection, SocketMetadata
from blockyard_dapr.client._streams import Attach, answer_stream
from blockyard_dapr.protocol import common_pb2, pubsub_pb2, pubsub_pb2_grpc

__all__ = ["SocketPubSub"]


class SocketPubSub(BulkPublisher):
    """A pluggable pub/sub; its features are the ones the server reports after ``Init``.

    ``RETRY`` answers with an ack error (the server redelivers); ``SUCCESS`` and ``DROP`` answer
    without one, as daprd does for a message its app dropped.

    The protocol has one consumer group per component instance (daprd sends ``consumerID`` at
    ``Init``: the app id). The default group is that ``consumerID`` (else the instance name); a
    subscription in another group gets a server-side instance of its own, ``<name>~<group>``,
    initialised with the same metadata and ``consumerID: <group>``.

    The schema has no "subscribed" answer: ``subscribe`` returns once the server sent the
    ``x-blockyard-subscribed`` header (Blockyard's server does, after its component attached), or
    failed the stream, or after ``attachTimeout`` — a server that never says so is then assumed attached.
    """

    type: ClassVar[str] = "pubsub.dapr-socket"
    Metadata = SocketMetadata
    features: ClassVar[frozenset[PubSubFeature]] = frozenset(PubSubFeature) - {PubSubFeature.BULK_SUBSCRIBE}
    meta: SocketMetadata

    @property
    def default_consumer_group(self) -> str:
        """The server-side component's group: the ``consumerID`` sent at ``Init``, else the instance name."""
        return self.meta.init_properties().get("consumerID") or self.name

    async def _init(self) -> None:
        self._groups: dict[str, tuple[SocketConnection, Any]] = {}
        self._conn = SocketConnection(self.meta.socket_path, self.name)
        self._stub = pubsub_pb2_grpc.PubSubStub(self._conn.channel)
        init = pubsub_pb2.PubSubInitRequest(metadata=common_pb2.MetadataRequest(properties=self.meta.init_properties()))
        await self._conn.call(self._stub.Init, init)
        reply = await self._conn.call(self._stub.Features, common_pb2.FeaturesRequest())
        self._narrow_features(PubSubFeature(f) for f in reply.features if f in PubSubFeature.__members__)

    async def _close(self) -> None:
        for conn, _ in getattr(self, "_groups", {}).values():
            await conn.close()
        if hasattr(self, "_conn"):
            await self._conn.close()

    async def _group(self, group: str) -> tuple[SocketConnection, Any]:
        """The connection and stub whose server-side instance consumes as ``group``."""
        if group == self.default_consumer_group:
            return self._conn, self._stub
        if group not in self._groups:
            conn = SocketConnection(self.meta.socket_path, f"{self.name}~{group}")
            stub = pubsub_pb2_grpc.PubSubStub(conn.channel)
            properties = self.meta.init_properties(consumerID=group)
            try:
                await conn.call(
                    stub.Init, pubsub_pb2.PubSubInitRequest(metadata=common_pb2.MetadataRequest(properties=properties))
                )
            except BaseException:
                await conn.close()
                raise
            self._groups[group] = (conn, stub)
        return self._groups[group]

    async def _ping(self) -> None:
        await self._conn.call(self._stub.Ping, common_pb2.PingRequest())

    async def _publish(self, op: PublishOp) -> None:
        metadata = dict(op.metadata)
        if op.ttl is not None:
            metadata["ttlInSeconds"] = str(op.ttl)
        request = pubsub_pb2.PublishRequest(
            topic=op.topic, data=op.data, metadata=metadata, content_type=op.content_type or "", pubsub_name=self.name
        )
        await self._conn.call(self._stub.Publish, request)

    async def _bulk_publish(self, ops: list[tuple[str, PublishOp]]) -> dict[str, BlockyardError]:
        if not ops:
            return {}
        topic = ops[0][1].topic
        request = pubsub_pb2.BulkPublishRequest(
            topic=topic,
            pubsub_name=self.name,
            entries=[
                pubsub_pb2.BulkMessageEntry(
                    entry_id=entry_id, event=op.data, content_type=op.content_type or "", metadata=dict(op.metadata)
                )
                for entry_id, op in ops
            ],
        )
        reply = await self._conn.call(self._stub.BulkPublish, request)
        return {
            f.entry_id: BackendError(f.error, component=self.name, operation="bulk_publish", key=f.entry_id)
            for f in reply.failed_entries
        }

    async def _subscribe(self, req: SubscribeRequest) -> Stopper:
        conn, stub = await self._group(req.consumer_group)
        stream = stub.PullMessages(metadata=conn.header)

        async def handle(message: pubsub_pb2.PullMessagesResponse) -> HandlerResult:
            return await req.deliver(
                Message(
                    topic=message.topic_name or req.topic,
                    data=bytes(message.data),
                    metadata=dict(message.metadata),
                    content_type=message.content_type or None,
                    id=message.id or None,
                )
            )

        def answer(message: pubsub_pb2.PullMessagesResponse, result: HandlerResult) -> pubsub_pb2.PullMessagesRequest:
            if result is HandlerResult.RETRY:
                error = pubsub_pb2.AckMessageError(message="the handler asked for a retry")
                return pubsub_pb2.PullMessagesRequest(ack_message_id=message.id, ack_error=error)
            return pubsub_pb2.PullMessagesRequest(ack_message_id=message.id)

        first = pubsub_pb2.PullMessagesRequest(topic=pubsub_pb2.Topic(name=req.topic, metadata=dict(req.metadata)))
        return await answer_stream(stream, first, handle, answer, attach=self._attach(req.topic))

    def _attach(self, topic: str) -> Attach:
        return Attach(self.name, f"topic {topic!r}", self.meta.attach_timeout.total_seconds())

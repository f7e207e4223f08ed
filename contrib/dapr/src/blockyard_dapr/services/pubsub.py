"""``PubSub`` servicer over a Blockyard :class:`~blockyard.pubsub.PubSub`.

daprd writes and reads the CloudEvents envelope itself, so the component publishes what daprd
sends and delivers what the broker holds unchanged (``rawPayload`` both ways): no second envelope.
``PullMessages`` subscribes the component to the topic named in the stream's first request (its
metadata goes to ``subscribe``; the consumer group is the component's, which daprd sets to the app
id through ``consumerID``), then sends the ``x-blockyard-subscribed`` header; each delivered
message waits for daprd's acknowledgement.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import grpc

from blockyard.envelope import RAW_PAYLOAD
from blockyard.errors import BulkError, InvalidRequestError, NotSupportedError
from blockyard.pubsub import BulkPublishEntry, Message, PubSub, PubSubFeature
from blockyard.subscription import HandlerResult
from blockyard_dapr.protocol import SUBSCRIBED_HEADER, pubsub_pb2
from blockyard_dapr.services._acks import AckedStream
from blockyard_dapr.services._common import ReportsFeatures, reports_errors
from blockyard_dapr.status import abort_with

__all__ = ["PubSubServicer"]

Ctx: TypeAlias = grpc.aio.ServicerContext[Any, Any]


def _read_ack(request: pubsub_pb2.PullMessagesRequest) -> tuple[str, bool]:
    return request.ack_message_id, request.HasField("ack_error")


class PubSubServicer(ReportsFeatures[PubSub]):
    """Publish, bulk publish and streaming subscriptions of every served pub/sub component."""

    init_response = pubsub_pb2.PubSubInitResponse

    @reports_errors
    async def Publish(self, request: pubsub_pb2.PublishRequest, context: Ctx) -> pubsub_pb2.PublishResponse:
        await self.instances.get(context).publish(
            request.topic,
            bytes(request.data),
            metadata={**request.metadata, RAW_PAYLOAD: "true"},
            content_type=request.content_type or None,
        )
        return pubsub_pb2.PublishResponse()

    @reports_errors
    async def BulkPublish(self, request: pubsub_pb2.BulkPublishRequest, context: Ctx) -> pubsub_pb2.BulkPublishResponse:
        """Publish every entry; the reply lists only the entries that failed, with their error."""
        pubsub = self.instances.get(context)
        entries = [
            BulkPublishEntry(e.entry_id, bytes(e.event), dict(e.metadata), e.content_type or None)
            for e in request.entries
        ]
        failed: dict[str, str] = {}
        if PubSubFeature.BULK_PUBSUB in pubsub.features:
            try:
                await pubsub.bulk_publish(request.topic, entries, metadata={**request.metadata, RAW_PAYLOAD: "true"})
            except BulkError as exc:
                failed = {entry_id: str(cause) for entry_id, cause in exc.errors.items()}
        else:
            for entry in entries:
                try:
                    await pubsub.publish(
                        request.topic,
                        entry.data,
                        metadata={**request.metadata, **(entry.metadata or {}), RAW_PAYLOAD: "true"},
                        content_type=entry.content_type,
                    )
                except (InvalidRequestError, BulkError) as exc:
                    failed[entry.entry_id] = str(exc)
        return pubsub_pb2.BulkPublishResponse(
            failed_entries=[
                pubsub_pb2.BulkPublishResponseFailedEntry(entry_id=entry_id, error=error)
                for entry_id, error in failed.items()
            ]
        )

    async def PullMessages(
        self, request_iterator: AsyncIterator[pubsub_pb2.PullMessagesRequest], context: Ctx
    ) -> AsyncIterator[pubsub_pb2.PullMessagesResponse]:
        """Deliver the topic the first request names until daprd closes the stream."""
        try:
            first = await anext(request_iterator)
            if not first.HasField("topic") or not first.topic.name:
                raise InvalidRequestError("the first PullMessages request must name a topic")
            pubsub = self.instances.get(context)
        except StopAsyncIteration:
            return
        except Exception as exc:
            await abort_with(context, exc)
            return
        stream: AckedStream[pubsub_pb2.PullMessagesResponse] = AckedStream()

        async def handle(message: Message) -> HandlerResult:
            return await stream.deliver(
                lambda message_id: pubsub_pb2.PullMessagesResponse(
                    data=message.data,
                    topic_name=message.topic,
                    metadata=message.metadata,
                    content_type=message.content_type or "",
                    id=message_id,
                )
            )

        try:
            metadata = {**first.topic.metadata, RAW_PAYLOAD: "true"}
            subscription = await pubsub.subscribe(first.topic.name, handle, metadata=metadata)
        except Exception as exc:
            await abort_with(context, exc)
            return
        try:
            await context.send_initial_metadata(((SUBSCRIBED_HEADER, "1"),))
            async for response in stream.run(request_iterator, _read_ack):
                yield response
        finally:
            await subscription.cancel()

    @reports_errors
    async def Pause(self, request: pubsub_pb2.PauseRequest, context: Ctx) -> pubsub_pb2.PauseResponse:
        """Not offered: daprd stops a subscription by closing its stream."""
        raise NotSupportedError("pausing a subscription is not supported; close its stream instead")

    @reports_errors
    async def Resume(self, request: pubsub_pb2.ResumeRequest, context: Ctx) -> pubsub_pb2.ResumeResponse:
        """Not offered: daprd resumes a subscription by opening a new stream."""
        raise NotSupportedError("resuming a subscription is not supported; open a new stream instead")

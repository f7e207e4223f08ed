"""``bindings.aws.sqs``: send to and read from one SQS queue.

- Output ``create`` sends the data as the message body (UTF-8 text; SQS bodies are text, so send
  bytes base64-encoded) and returns ``{"messageId": ...}``; request metadata becomes message
  attributes.
- Input ``read(handler)`` long-polls the queue (``messageWaitTimeSeconds``) off the event loop and
  calls the handler per message, with the message attributes as event metadata. The message is
  deleted only after the handler succeeded (or returned DROP); a handler that raises or returns
  RETRY makes it visible again at once, so it is delivered again (at least once).
- ``init()`` resolves the queue URL; an unknown queue is a
  :class:`~blockyard.errors.ComponentConfigError` naming it.

Example::

    import asyncio
    from blockyard_aws.sqs import SqsBinding

    async def main() -> None:
        async with SqsBinding({"queueName": "jobs", "region": "us-east-1"}, name="jobs") as jobs:
            async def handle(event):
                print(event.data)                   # returning None deletes the message

            async with await jobs.read(handle):
                await jobs.invoke("create", {"job": 1})
                await asyncio.sleep(1)

    asyncio.run(main())

Component YAML::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: jobs}
    spec:
      type: bindings.aws.sqs
      version: v1
      metadata:
        - {name: queueName, value: jobs}
        - {name: region, value: us-east-1}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson
from pydantic import field_validator

from blockyard.bindings import BindingEvent, BindingResponse, InputBinding, InvokeRequest, OutputBinding
from blockyard.errors import ComponentConfigError, InvalidRequestError
from blockyard.metadata import meta
from blockyard.subscription import HandlerResult, Stopper
from blockyard_aws.client import AwsClientMixin, AwsMetadata, aws_error_code
from blockyard_aws.sqs_poller import Deliver, QueuePoller

__all__ = ["SqsBinding", "SqsMetadata", "SqsPollingMetadata", "attributes_to_metadata", "metadata_to_attributes"]

_MISSING_QUEUE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


class SqsPollingMetadata(AwsMetadata):
    """The long-poll settings shared by every component that receives from an SQS queue."""

    message_wait_time_seconds: int = meta(1, description="long-poll wait of each receive (0-20 s)")
    message_max_number: int = meta(10, description="messages received per poll (1-10)")

    @field_validator("message_wait_time_seconds")
    @classmethod
    def _check_wait(cls, value: int) -> int:
        if not 0 <= value <= 20:
            raise ValueError("expected 0 to 20 seconds")
        return value

    @field_validator("message_max_number")
    @classmethod
    def _check_max(cls, value: int) -> int:
        if not 1 <= value <= 10:
            raise ValueError("expected 1 to 10")
        return value


class SqsMetadata(SqsPollingMetadata):
    """Metadata of ``bindings.aws.sqs``."""

    queue_name: str = meta(description="name of an existing queue", example="jobs")


def metadata_to_attributes(metadata: Mapping[str, str]) -> dict[str, Any]:
    """Request metadata as SQS/SNS message attributes (string values; at most 10)."""
    attrs = {k: {"DataType": "String", "StringValue": str(v)} for k, v in metadata.items() if v != ""}
    if len(attrs) > 10:
        raise InvalidRequestError("SQS and SNS carry at most 10 message attributes (metadata entries)")
    return attrs


def attributes_to_metadata(message: Mapping[str, Any]) -> dict[str, str]:
    """The string message attributes of a received SQS message."""
    attrs = message.get("MessageAttributes") or {}
    return {k: str(v.get("StringValue", "")) for k, v in attrs.items() if "StringValue" in v}


def body_text(data: bytes | None) -> str:
    """An SQS body from bytes: SQS carries Unicode text only.

    :raises InvalidRequestError: for bytes that are not UTF-8 (encode them as base64 first).
    """
    try:
        return (data or b"").decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError("SQS message bodies are text: send UTF-8, or base64-encode binary data") from None


class SqsBinding(AwsClientMixin, InputBinding, OutputBinding):
    """Input and output binding on one SQS queue; see the module docstring."""

    type: ClassVar[str] = "bindings.aws.sqs"
    Metadata = SqsMetadata
    operations: ClassVar[frozenset[str]] = frozenset({"create"})
    aws_services: ClassVar[tuple[str, ...]] = ("sqs",)
    _queue_url: str = ""

    async def _check_resources(self) -> None:
        name = self.meta.queue_name
        try:
            resp = await self._call("sqs", "get_queue_url", QueueName=name)
        except Exception as exc:
            if aws_error_code(exc) in _MISSING_QUEUE:
                raise ComponentConfigError(
                    f"queue {name!r} does not exist (create it first)", component=self.name, field="queueName"
                ) from None
            raise
        self._queue_url = resp["QueueUrl"]

    async def _ping(self) -> None:
        await self._call("sqs", "get_queue_attributes", QueueUrl=self._queue_url, AttributeNames=["QueueArn"])

    async def _invoke(self, req: InvokeRequest) -> BindingResponse:
        kwargs: dict[str, Any] = {"QueueUrl": self._queue_url, "MessageBody": body_text(req.data)}
        if req.metadata:
            kwargs["MessageAttributes"] = metadata_to_attributes(req.metadata)
        resp = await self._call("sqs", "send_message", **kwargs)
        return BindingResponse(orjson.dumps({"messageId": resp["MessageId"]}), {}, "application/json")

    async def _read(self, deliver: Any) -> Stopper:
        md: SqsMetadata = self.meta

        async def one(message: Mapping[str, Any]) -> HandlerResult:
            event = BindingEvent(
                str(message.get("Body", "")).encode("utf-8"),
                attributes_to_metadata(message),
                None,
                message["MessageId"],
            )
            result: HandlerResult = await deliver(event)
            return result

        handler: Deliver = one
        poller = QueuePoller(
            self,
            self._queue_url,
            handler,
            wait_seconds=md.message_wait_time_seconds,
            max_messages=md.message_max_number,
            what=f"queue {md.queue_name!r}",
        )
        poller.start()
        return poller.stop

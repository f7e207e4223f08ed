"""``pubsub.aws.snssqs``: topics on SNS, consumer groups on SQS queues, at-least-once delivery.

Features: CONSUMER_GROUPS, REDELIVERY, BULK_PUBSUB; ORDERED with ``fifo: true``.

- A topic is an SNS topic of the same name (a name with characters SNS refuses, or too long, is
  cleaned and suffixed with a hash of the original, so distinct topics never merge). A consumer
  group (``consumer_group=``, default ``consumerID``, else the component name) reading a topic is
  the SQS queue ``<group>-<topic>`` subscribed to it with raw message delivery: subscriptions of
  one group compete for its messages, every group gets every message. (Dapr names one queue per
  ``consumerID`` for every topic and tells topics apart by the SNS envelope; one queue per group
  and topic keeps raw delivery and lets each subscription be cancelled on its own.)
- Entity management (default): topics, queues, the queue policy that lets SNS send, the
  subscription and the dead-letter queue are created when first used. With
  ``disableEntityManagement: true`` they must exist; a missing topic or queue is an error naming it.
- Delivery: each subscription long-polls its queue (``messageWaitTimeSeconds``, up to
  ``messageMaxNumber`` per poll) on a worker thread. A message is deleted only after its handler
  succeeded or returned DROP; RETRY or an error makes it visible again at once. A message received
  more than ``messageRetryLimit`` times is deleted (logged) unless ``disableDeleteOnRetryLimit`` is
  set — or, with ``sqsDeadLettersQueueName``, SQS moves it to that dead-letter queue after
  ``messageReceiveLimit`` receives (a redrive policy on the queue). A subscriber that stops
  releases its unfinished messages; one that dies leaves them to reappear after
  ``messageVisibilityTimeout``. A message still being handled when that timeout passes is
  delivered again (also to a competing subscriber): keep it above the handling time of a batch.
- Recovery: the clients reconnect by themselves; with entity management, a topic or queue that
  vanished (an emulator restarted empty) is created again by the next publish or poll.
- ``fifo: true``: FIFO topics and queues (``.fifo`` names), every message in the message group
  ``fifoMessageGroupID`` (default: the topic), handled one at a time in publish order.
- Payloads: SNS and SQS carry text, so bytes that are not UTF-8 travel base64-encoded (marked by
  the message attribute ``blockyard.encoding``) and arrive byte-exact. Request metadata travels as
  message attributes (at most 9); ``content_type`` as the attribute ``contentType``.
- ``bulk_publish`` sends ``PublishBatch`` calls of 10 entries.

Example::

    import asyncio
    from blockyard_aws.snssqs import SnsSqsPubSub

    async def main() -> None:
        async with SnsSqsPubSub({"region": "us-east-1", "consumerID": "billing"}, name="pubsub") as broker:
            async def handle(message):
                print(message.topic, message.json())      # return None = success = deleted

            async with await broker.subscribe("orders", handle):
                await broker.publish("orders", {"id": 1})
                await asyncio.sleep(2)

    asyncio.run(main())

Component YAML::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: pubsub}
    spec:
      type: pubsub.aws.snssqs
      version: v1
      metadata:
        - {name: region, value: us-east-1}
        - {name: consumerID, value: billing}
        - {name: sqsDeadLettersQueueName, value: billing-dead-letters}
        - {name: messageReceiveLimit, value: "5"}
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self

import orjson
from pydantic import field_validator, model_validator

from blockyard.errors import BackendError, BlockyardError, ComponentConfigError
from blockyard.metadata import meta
from blockyard.pubsub import BulkPublisher, HandlerResult, Message, PublishOp, PubSubFeature, SubscribeRequest
from blockyard.subscription import Stopper
from blockyard_aws.client import AwsClientMixin, AwsMetadata, aws_error_code
from blockyard_aws.sqs import SqsPollingMetadata, attributes_to_metadata, metadata_to_attributes
from blockyard_aws.sqs_poller import QueuePoller

__all__ = ["SnsSqsMetadata", "SnsSqsPubSub", "sanitize_name"]

ENCODING_ATTRIBUTE = "blockyard.encoding"
CONTENT_TYPE_ATTRIBUTE = "contentType"
_INVALID = re.compile(r"[^A-Za-z0-9_-]")
_QUEUE_MAX = 80
_MISSING_QUEUE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
_FIFO = ".fifo"


def sanitize_name(name: str, limit: int, fifo: bool) -> str:
    """An SNS/SQS name for ``name``: only ``[A-Za-z0-9_-]``, at most ``limit`` characters with the
    ``.fifo`` suffix when ``fifo``.

    A valid name is kept as it is. One that had to be changed (other characters dropped, or cut to
    the limit) gets a hash of the whole original, so two different names never share an entity
    (``orders.`` and ``orders`` stay apart; Dapr's sanitising would merge them).
    """
    base = name.removesuffix(_FIFO) if fifo else name
    clean = _INVALID.sub("", base)
    room = limit - (len(_FIFO) if fifo else 0)
    if clean != base or len(clean) > room:
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        clean = f"{clean[: room - 13]}-{digest}"
    return clean + (_FIFO if fifo else "")


class SnsSqsMetadata(SqsPollingMetadata):
    """Metadata of ``pubsub.aws.snssqs``."""

    unsupported: ClassVar[dict[str, str]] = {
        **AwsMetadata.unsupported,
        "assetsManagementTimeoutSeconds": "entity management calls use dialTimeout and readTimeout",
        "accountId": "ARNs are taken from the API responses; no account id is needed",
    }

    consumer_id: str | None = meta(
        None, description="default consumer group (queue name prefix); else the component name", alias="consumerID"
    )
    message_visibility_timeout: int = meta(
        10, description="seconds a received message stays hidden before SQS delivers it again"
    )
    message_receive_limit: int = meta(10, description="receives before SQS moves a message to the dead-letter queue")
    message_retry_limit: int = meta(
        10, description="receives after which a message is deleted (without a dead-letter queue)"
    )
    sqs_dead_letters_queue_name: str | None = meta(
        None,
        description="dead-letter queue for messages received messageReceiveLimit times",
        alias="sqsDeadLettersQueueName",
    )
    fifo: bool = meta(False, description="FIFO topics and queues: in-order delivery per message group")
    fifo_message_group_id: str | None = meta(
        None, description="FIFO message group of published messages (default: the topic)", alias="fifoMessageGroupID"
    )
    disable_entity_management: bool = meta(False, description="do not create topics, queues or subscriptions")
    disable_delete_on_retry_limit: bool = meta(
        False, description="keep redelivering a message past messageRetryLimit instead of deleting it"
    )
    concurrency_mode: Literal["parallel", "single"] = meta(
        "parallel",
        description="'parallel' handlers per poll, or 'single' (one at a time)",
        allowed=("parallel", "single"),
    )
    concurrency_limit: int = meta(0, description="handlers running at once per subscription (0: no limit)")

    @field_validator("message_visibility_timeout", "message_receive_limit", "message_retry_limit", "concurrency_limit")
    @classmethod
    def _check_non_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("expected an integer >= 0")
        return value

    @model_validator(mode="after")
    def _check_dead_letters(self) -> Self:
        if self.sqs_dead_letters_queue_name and self.message_receive_limit < 1:
            raise ValueError("field 'messageReceiveLimit' must be >= 1 with 'sqsDeadLettersQueueName'")
        return self


class SnsSqsPubSub(AwsClientMixin, BulkPublisher):
    """Pub/sub on SNS topics and SQS queues; see the module docstring for the delivery guarantees."""

    type: ClassVar[str] = "pubsub.aws.snssqs"
    Metadata = SnsSqsMetadata
    features: ClassVar[frozenset[PubSubFeature]] = frozenset(
        {PubSubFeature.CONSUMER_GROUPS, PubSubFeature.REDELIVERY, PubSubFeature.BULK_PUBSUB, PubSubFeature.ORDERED}
    )
    aws_services: ClassVar[tuple[str, ...]] = ("sns", "sqs")

    def __init__(self, metadata: Any = None, *, name: str | None = None) -> None:
        super().__init__(metadata, name=name)
        md: SnsSqsMetadata = self.meta
        self._fifo = md.fifo
        if not md.fifo:
            self._narrow_features(type(self).features - {PubSubFeature.ORDERED})
        self._topics: dict[str, str] = {}
        self._entity_lock: asyncio.Lock | None = None

    async def _ping(self) -> None:
        await self._call("sns", "list_topics")

    # -- entities ------------------------------------------------------------------------------

    def _topic_name(self, topic: str) -> str:
        return sanitize_name(topic, 256, self._fifo)

    def _queue_name(self, group: str, topic: str) -> str:
        return sanitize_name(f"{group}-{topic}", _QUEUE_MAX, self._fifo)

    async def _topic_arn(self, topic: str) -> str:
        arn = self._topics.get(topic)
        if arn is not None:
            return arn
        name = self._topic_name(topic)
        if self.meta.disable_entity_management:
            arn = await self._find_topic(name)
        else:
            attrs = {"FifoTopic": "true"} if self._fifo else {}
            arn = str((await self._call("sns", "create_topic", Name=name, Attributes=attrs))["TopicArn"])
        self._topics[topic] = arn
        return arn

    async def _find_topic(self, name: str) -> str:
        kwargs: dict[str, Any] = {}
        while True:
            resp = await self._call("sns", "list_topics", **kwargs)
            for t in resp.get("Topics", []):
                if t["TopicArn"].rsplit(":", 1)[-1] == name:
                    return str(t["TopicArn"])
            if not resp.get("NextToken"):
                break
            kwargs["NextToken"] = resp["NextToken"]
        raise ComponentConfigError(
            f"SNS topic {name!r} does not exist and disableEntityManagement is set",
            component=self.name,
            field="disableEntityManagement",
        )

    async def _queue(self, name: str, attributes: Mapping[str, str]) -> tuple[str, str]:
        """``(url, arn)`` of queue ``name``, created (and its attributes set) unless entities are unmanaged."""
        if self.meta.disable_entity_management:
            try:
                url = str((await self._call("sqs", "get_queue_url", QueueName=name))["QueueUrl"])
            except Exception as exc:
                if aws_error_code(exc) in _MISSING_QUEUE:
                    raise ComponentConfigError(
                        f"SQS queue {name!r} does not exist and disableEntityManagement is set",
                        component=self.name,
                        field="disableEntityManagement",
                    ) from None
                raise
        else:
            create = {"FifoQueue": "true"} if self._fifo else {}
            url = str((await self._call("sqs", "create_queue", QueueName=name, Attributes=create))["QueueUrl"])
            if attributes:
                await self._call("sqs", "set_queue_attributes", QueueUrl=url, Attributes=dict(attributes))
        arn = (await self._call("sqs", "get_queue_attributes", QueueUrl=url, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        return url, str(arn)

    async def _ensure_subscription(self, topic: str, group: str) -> str:
        """The queue URL of ``group`` on ``topic``, with topic, queue, policy, DLQ and subscription in place."""
        md: SnsSqsMetadata = self.meta
        if self._entity_lock is None:
            self._entity_lock = asyncio.Lock()
        async with self._entity_lock:
            topic_arn = await self._topic_arn(topic)
            name = self._queue_name(group, topic)
            if md.disable_entity_management:
                return (await self._queue(name, {}))[0]
            attrs: dict[str, str] = {"VisibilityTimeout": str(md.message_visibility_timeout)}
            if md.sqs_dead_letters_queue_name:
                dlq = sanitize_name(md.sqs_dead_letters_queue_name, _QUEUE_MAX, self._fifo)
                _, dlq_arn = await self._queue(dlq, {})
                attrs["RedrivePolicy"] = orjson.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(md.message_receive_limit)}
                ).decode()
            url, queue_arn = await self._queue(name, attrs)
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sns.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": queue_arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                    }
                ],
            }
            await self._call(
                "sqs", "set_queue_attributes", QueueUrl=url, Attributes={"Policy": orjson.dumps(policy).decode()}
            )
            subs = await self._call("sns", "list_subscriptions_by_topic", TopicArn=topic_arn)
            if not any(s.get("Endpoint") == queue_arn for s in subs.get("Subscriptions", [])):
                await self._call(
                    "sns",
                    "subscribe",
                    TopicArn=topic_arn,
                    Protocol="sqs",
                    Endpoint=queue_arn,
                    Attributes={"RawMessageDelivery": "true"},
                )
            return url

    # -- publishing ----------------------------------------------------------------------------

    def _entry(self, op: PublishOp) -> dict[str, Any]:
        md = dict(op.metadata)
        try:
            body = op.data.decode("utf-8")
        except UnicodeDecodeError:
            body = base64.b64encode(op.data).decode()
            md[ENCODING_ATTRIBUTE] = "base64"
        if op.content_type:
            md[CONTENT_TYPE_ATTRIBUTE] = op.content_type
        entry: dict[str, Any] = {"Message": body}
        if md:
            entry["MessageAttributes"] = metadata_to_attributes(md)
        if self._fifo:
            entry["MessageGroupId"] = self.meta.fifo_message_group_id or self._topic_name(op.topic)
            entry["MessageDeduplicationId"] = uuid.uuid4().hex
        return entry

    async def _publish(self, op: PublishOp) -> None:
        entry = self._entry(op)
        try:
            await self._call("sns", "publish", TopicArn=await self._topic_arn(op.topic), **entry)
        except Exception as exc:
            if not self._topic_gone(exc, op.topic):
                raise
            await self._call("sns", "publish", TopicArn=await self._topic_arn(op.topic), **entry)

    def _topic_gone(self, exc: BaseException, topic: str) -> bool:
        """True (and the cached ARN forgotten) when a managed topic no longer exists: create it again."""
        if self.meta.disable_entity_management or aws_error_code(exc) not in ("NotFound", "NotFoundException"):
            return False
        self._topics.pop(topic, None)
        return True

    async def _bulk_publish(self, ops: list[tuple[str, PublishOp]]) -> dict[str, BlockyardError]:
        errors: dict[str, BlockyardError] = {}
        entries: list[tuple[str, dict[str, Any]]] = []
        for entry_id, op in ops:
            try:
                entries.append((entry_id, self._entry(op)))
            except BlockyardError as exc:
                errors[entry_id] = exc.fill(self.name, "bulk_publish", op.topic)
        if not entries:
            return errors
        topic = ops[0][1].topic
        arn = await self._topic_arn(topic)
        for start in range(0, len(entries), 10):
            chunk = entries[start : start + 10]
            batch = [{"Id": str(i), **e} for i, (_, e) in enumerate(chunk)]
            try:
                resp = await self._call("sns", "publish_batch", TopicArn=arn, PublishBatchRequestEntries=batch)
            except Exception as exc:
                for entry_id, _ in chunk:
                    errors[entry_id] = self._wrap(exc, "bulk_publish", topic)
                continue
            for failed in resp.get("Failed", []):
                entry_id = chunk[int(failed["Id"])][0]
                errors[entry_id] = BackendError(
                    f"{failed.get('Code')}: {failed.get('Message', '')}",
                    component=self.name, operation="bulk_publish", key=topic,
                )  # fmt: skip
        return errors

    # -- subscribing ---------------------------------------------------------------------------

    async def _subscribe(self, req: SubscribeRequest) -> Stopper:
        md: SnsSqsMetadata = self.meta
        url = await self._ensure_subscription(req.topic, req.consumer_group)

        async def recreate() -> str:
            self._topics.pop(req.topic, None)
            return await self._ensure_subscription(req.topic, req.consumer_group)

        limit = asyncio.Semaphore(md.concurrency_limit) if md.concurrency_limit else None
        retry_limit = md.message_retry_limit
        delete_on_limit = not md.sqs_dead_letters_queue_name and not md.disable_delete_on_retry_limit
        topic, log, name = req.topic, self.log, self.name

        async def one(raw: Mapping[str, Any]) -> HandlerResult:
            received = int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if delete_on_limit and retry_limit and received > retry_limit:
                log.warning(
                    "component %r: message %s on topic %r was received %d times (messageRetryLimit %d); deleting it",
                    name, raw["MessageId"], topic, received, retry_limit,
                )  # fmt: skip
                return HandlerResult.DROP
            message = _message(topic, raw)
            if limit is None:
                return await req.deliver(message)
            async with limit:
                return await req.deliver(message)

        poller = QueuePoller(
            self,
            url,
            one,
            wait_seconds=md.message_wait_time_seconds,
            max_messages=md.message_max_number,
            ordered=self._fifo or md.concurrency_mode == "single",
            what=f"topic {req.topic!r} (group {req.consumer_group!r})",
            recreate=None if md.disable_entity_management else recreate,
        )
        poller.start()
        return poller.stop


def _message(topic: str, raw: Mapping[str, Any]) -> Message:
    metadata = attributes_to_metadata(raw)
    body = str(raw.get("Body", ""))
    data = base64.b64decode(body) if metadata.pop(ENCODING_ATTRIBUTE, None) == "base64" else body.encode("utf-8")
    content_type = metadata.pop(CONTENT_TYPE_ATTRIBUTE, None)
    return Message(topic, data, metadata, content_type, str(raw["MessageId"]))
